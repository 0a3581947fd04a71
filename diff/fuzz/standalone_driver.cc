// Runs a libFuzzer target without libFuzzer (for g++ builds and ctest):
// every seed file given on the command line, then a fixed number of
// deterministic mutations of them (bit flips, byte sets, truncations,
// splices, interesting integers). Usage: driver [-n N] seed...
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

uint64_t state = 0x243F6A8885A308D3ull;
uint64_t Next() {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

void Run(const std::string& s) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::string Mutate(std::string s, const std::vector<std::string>& seeds) {
  int rounds = 1 + static_cast<int>(Next() % 4);
  for (int r = 0; r < rounds; ++r) {
    size_t pos = s.empty() ? 0 : Next() % s.size();
    switch (Next() % 6) {
      case 0:
        if (!s.empty())
          s[pos] = static_cast<char>(s[pos] ^ (1 << (Next() % 8)));
        break;
      case 1:
        if (!s.empty()) s[pos] = static_cast<char>(Next());
        break;
      case 2:
        s.resize(Next() % (s.size() + 1));
        break;
      case 3: {
        static const uint64_t kInteresting[] = {0,
                                                1,
                                                0x7f,
                                                0xff,
                                                0x7fffffff,
                                                0xffffffffffffffffull,
                                                0x8000000000000000ull};
        uint64_t v = kInteresting[Next() % 7];
        for (int i = 0; i < 8 && pos + i < s.size(); ++i) {
          s[pos + i] = static_cast<char>(v >> (8 * i));
        }
        break;
      }
      case 4: {
        const std::string& other = seeds[Next() % seeds.size()];
        if (!other.empty()) {
          size_t from = Next() % other.size();
          s.insert(pos, other.substr(from, Next() % 64));
        }
        break;
      }
      default:
        if (!s.empty()) s.erase(pos, Next() % 16);
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  long iterations = 3000;
  std::vector<std::string> seeds;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
      iterations = std::atol(argv[++i]);
      continue;
    }
    std::ifstream f(argv[i], std::ios::binary);
    if (!f) {
      std::fprintf(stderr, "cannot read seed %s\n", argv[i]);
      return 2;
    }
    std::stringstream ss;
    ss << f.rdbuf();
    seeds.push_back(ss.str());
  }
  if (seeds.empty()) seeds.push_back(std::string());
  for (const auto& s : seeds) Run(s);
  for (long i = 0; i < iterations; ++i) {
    Run(Mutate(seeds[Next() % seeds.size()], seeds));
  }
  std::printf("ran %zu seeds and %ld mutations without a crash\n", seeds.size(),
              iterations);
  return 0;
}
