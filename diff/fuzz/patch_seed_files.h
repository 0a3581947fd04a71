// The old and new files the patch_reader seeds were made from
// (seeds/README.md), shared by the fuzz targets that read those seeds: the
// delta engine's patch reader and the device core's applier.
#ifndef STRATA_DIFF_FUZZ_PATCH_SEED_FILES_H_
#define STRATA_DIFF_FUZZ_PATCH_SEED_FILES_H_

#include <string>

namespace strata::fuzz {

inline const std::string& OldData() {
  static const std::string old_data = [] {
    std::string s(4096, '\0');
    for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(i * 31);
    return s;
  }();
  return old_data;
}

// The old file with bytes 100..119 set to 'x', "hello" inserted at 2000 and
// 50 bytes of 'y' appended. Its SHA-256 is the expected hash given for
// compact patches that leave the output check to the caller.
inline const std::string& NewData() {
  static const std::string new_data = [] {
    std::string s = OldData();
    for (size_t i = 100; i < 120; ++i) s[i] = 'x';
    s.insert(2000, "hello");
    s.append(50, 'y');
    return s;
  }();
  return new_data;
}

}  // namespace strata::fuzz

#endif  // STRATA_DIFF_FUZZ_PATCH_SEED_FILES_H_
