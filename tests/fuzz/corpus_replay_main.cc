// Corpus replay for the fuzz targets in the normal (gcc) test run: calls the
// target's LLVMFuzzerTestOneInput on every file of the given directories
// (the checked-in seeds and corpus), without libFuzzer and without
// mutation. A target reports a broken property by aborting, which fails the
// ctest. Fails too if a directory is missing or holds no file, so a
// mistyped path cannot make the replay vacuous.
// Usage: corpus_replay dir...
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s dir...\n", argv[0]);
    return 2;
  }
  size_t total = 0;
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(argv[i], ec)) {
      if (entry.is_regular_file()) files.push_back(entry.path());
    }
    if (ec || files.empty()) {
      std::fprintf(stderr, "no inputs in %s%s%s\n", argv[i], ec ? ": " : "",
                   ec ? ec.message().c_str() : "");
      return 2;
    }
    for (const auto& path : files) {
      std::ifstream f(path, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(f)),
                        std::istreambuf_iterator<char>());
      if (!f.good() && !f.eof()) {
        std::fprintf(stderr, "cannot read %s\n", path.c_str());
        return 2;
      }
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()),
                             bytes.size());
      ++total;
    }
    std::printf("%s: %zu inputs\n", argv[i], files.size());
  }
  std::printf("replayed %zu inputs without a failure\n", total);
  return 0;
}
