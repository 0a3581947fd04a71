// Runs a libFuzzer-style target without libFuzzer (g++ builds, ctest):
// each seed, then N deterministic mutations of the seeds (byte flips,
// overwrites with JSON-significant characters, insertions, deletions,
// truncations, splices of two seeds). Usage: driver [-n N] seed_file...
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

struct Rng {
  uint64_t s = 0x9E3779B97F4A7C15ull;
  uint64_t operator()() {
    s += 0x9E3779B97F4A7C15ull;
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t Below(size_t n) { return n == 0 ? 0 : (*this)() % n; }
};

constexpr std::string_view kSpecial = "{}[]\",:\\0123456789-etfnu ";

std::string Mutate(Rng& rng, const std::vector<std::string>& seeds) {
  std::string s = seeds[rng.Below(seeds.size())];
  const int edits = 1 + static_cast<int>(rng.Below(5));
  for (int e = 0; e < edits; ++e) {
    const size_t pos = rng.Below(s.size() + 1);
    switch (rng.Below(6)) {
      case 0:
        if (pos < s.size())
          s[pos] = static_cast<char>(s[pos] ^ (1 << rng.Below(8)));
        break;
      case 1:
        if (pos < s.size()) s[pos] = kSpecial[rng.Below(kSpecial.size())];
        break;
      case 2:
        s.insert(pos, 1, kSpecial[rng.Below(kSpecial.size())]);
        break;
      case 3:
        if (pos < s.size()) s.erase(pos, 1 + rng.Below(8));
        break;
      case 4:
        s.resize(pos);
        break;
      default: {
        const std::string& other = seeds[rng.Below(seeds.size())];
        const size_t from = rng.Below(other.size() + 1);
        s = s.substr(0, pos) + other.substr(from);
      }
    }
  }
  return s;
}

void Run(const std::string& s) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace

int main(int argc, char** argv) {
  long iterations = 1000;
  std::vector<std::string> seeds;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-n" && i + 1 < argc) {
      iterations = std::strtol(argv[++i], nullptr, 10);
      continue;
    }
    std::ifstream in(arg, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot read seed %s\n", arg.c_str());
      return 2;
    }
    std::stringstream buf;
    buf << in.rdbuf();
    seeds.push_back(buf.str());
  }
  if (seeds.empty()) seeds.push_back("{}");
  for (const std::string& s : seeds) Run(s);
  Rng rng;
  for (long i = 0; i < iterations; ++i) Run(Mutate(rng, seeds));
  std::printf("ran %zu seeds and %ld mutations\n", seeds.size(), iterations);
  return 0;
}
