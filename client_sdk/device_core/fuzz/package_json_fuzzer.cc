// Fuzz target: the device core's strata-package.json reader
// (device::ParseUrlPrefixes, client_sdk/device_core/src/package_json.cc,
// its own small JSON parser) against the full SDK's (client::
// ParseUrlPrefixes on strata::Json) as the reference. Input: the file's
// bytes. Properties: never a crash or a hang; both accept or both refuse;
// when both accept, the same prefixes in the same order.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "strata/device/device_core.h"
#include "url_map.h"

namespace {

struct Counters {
  unsigned long long inputs = 0, accepted = 0, with_prefixes = 0;
  ~Counters() {
    std::fprintf(stderr,
                 "device_package_json reach: inputs=%llu accepted=%llu "
                 "with_prefixes=%llu\n",
                 inputs, accepted, with_prefixes);
  }
};
Counters counters;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  ++counters.inputs;
  std::vector<std::string> device_prefixes;
  const strata::device::Error e =
      strata::device::ParseUrlPrefixes(json, &device_prefixes);
  const auto sdk = strata::client::ParseUrlPrefixes(json);
  if (e.ok() != sdk.ok()) {
    std::fprintf(stderr, "the readers disagree: device %s, full SDK %s\n",
                 e.ok() ? "accepts" : e.message.c_str(),
                 sdk.ok() ? "accepts" : sdk.status().ToString().c_str());
    std::abort();
  }
  if (!e.ok()) return 0;
  ++counters.accepted;
  if (!device_prefixes.empty()) ++counters.with_prefixes;
  if (device_prefixes != *sdk) {
    std::fprintf(stderr, "the readers declare different prefixes\n");
    std::abort();
  }
  return 0;
}
