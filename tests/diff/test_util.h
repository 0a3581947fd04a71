// Helpers for the delta engine tests: deterministic data and temp dirs.
#ifndef STRATA_TESTS_DIFF_TEST_UTIL_H_
#define STRATA_TESTS_DIFF_TEST_UTIL_H_

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

namespace strata::diff::testing {

// xorshift-based deterministic generator.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t Next() {
    s_ ^= s_ << 13;
    s_ ^= s_ >> 7;
    s_ ^= s_ << 17;
    return s_;
  }
  uint64_t Uniform(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  std::string Bytes(size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(Next());
    return s;
  }
  // Text-like bytes with repetition (compressible, like code).
  std::string Text(size_t n) {
    static const char* words[] = {"function ", "return ", "const ",  "this.",
                                  "render",    "(props)", "{\n",     "}\n",
                                  " = ",       "export ", "import ", "value",
                                  ";\n",       "if ("};
    std::string s;
    while (s.size() < n) s += words[Uniform(14)];
    s.resize(n);
    return s;
  }
  // A plausible new version of `old`: replaced, inserted, deleted and moved
  // blocks, and sparse byte changes (like relocated pointers).
  std::string Mutate(const std::string& old, int edits) {
    return MutateWith(old, edits, /*text=*/false);
  }
  // The same for text: inserted or replacing bytes are text too and there
  // are no sparse byte changes, so the new file lacks most byte values (as
  // real text does).
  std::string MutateText(const std::string& old, int edits) {
    return MutateWith(old, edits, /*text=*/true);
  }

 private:
  std::string MutateWith(const std::string& old, int edits, bool text) {
    std::string s = old;
    for (int i = 0; i < edits; ++i) {
      size_t pos = Uniform(s.size() + 1);
      size_t len = 1 + Uniform(64);
      uint64_t kind = Uniform(text ? 4 : 5);
      if (text && kind >= 2) ++kind;  // no sparse byte changes
      switch (kind) {
        case 0:
          s.insert(pos, text ? Text(len) : Bytes(len));
          break;
        case 1:
          if (pos < s.size()) s.erase(pos, len);
          break;
        case 2:
          for (size_t k = pos; k < s.size() && k < pos + 4 * len; k += 7)
            s[k] = static_cast<char>(s[k] + 1);
          break;
        case 3:
          if (pos < s.size()) {
            std::string block = s.substr(pos, len * 8);
            s.erase(pos, block.size());
            s.insert(Uniform(s.size() + 1), block);
          }
          break;
        default:
          if (pos < s.size())
            s.replace(pos, len, text ? Text(len) : Bytes(len));
      }
    }
    return s;
  }

  uint64_t s_;
};

// A fresh directory removed at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "strata-diff-test-XXXXXX")
            .string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const {
    return path_ + "/" + name;
  }

 private:
  std::string path_;
};

inline void WriteFile(const std::string& path, const std::string& data) {
  std::filesystem::create_directories(
      std::filesystem::path(path).parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// `files` text files under dir/old/js and the same under dir/new/js, every
// third of them edited (names f0.js, f1.js, ...).
inline void WriteEditedTrees(const std::string& dir, uint64_t seed, int files) {
  Rng rng(seed);
  for (int i = 0; i < files; ++i) {
    const std::string name = "/js/f" + std::to_string(i) + ".js";
    const std::string body = rng.Text(20000);
    WriteFile(dir + "/old" + name, body);
    WriteFile(dir + "/new" + name, i % 3 ? body : rng.MutateText(body, 5));
  }
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace strata::diff::testing

#endif  // STRATA_TESTS_DIFF_TEST_UTIL_H_
