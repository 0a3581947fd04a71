// Fuzz target: the segment expression parser and compiler (expression.h)
// on untrusted text, and the evaluator on what compiles. Properties: any
// input gives a program or an error status, never a crash or a hang; a
// compiled program evaluates without crashing on a few devices; "!(e)"
// evaluates to the negation of "e" and "(e) && true" to "e" whenever they
// compile (they may not: the wrapper adds nesting and bytes).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "strata/rollout/device_attributes.h"
#include "strata/rollout/expression.h"

namespace {

using strata::rollout::DeviceAttributes;
using strata::rollout::Expression;

const std::vector<DeviceAttributes>& Devices() {
  static const auto* devices = [] {
    auto* v = new std::vector<DeviceAttributes>();
    DeviceAttributes a;
    a.app_version = "10.3.0";
    a.os = "android";
    a.os_version = "14";
    a.device_model = "Pixel 8";
    a.region = "CN-31";
    a.channel = "beta";
    a.network = "wifi";
    a.locale = "zh-CN";
    a.user_id = "u1";
    a.device_id = "d1";
    a.custom = {{"tier", "3"}, {"ab.group", "b"}};
    v->push_back(a);
    DeviceAttributes b;
    b.app_version = "not-a-version";
    b.os = "ios";
    b.os_version = "17.2.1";
    b.custom = {{"tier", "10"}};
    v->push_back(b);
    v->push_back(DeviceAttributes{});
    return v;
  }();
  return *devices;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<Expression> e = Expression::Compile(text);
  if (!e.ok()) return 0;
  if (e->text() != text) std::abort();
  absl::StatusOr<Expression> negated =
      Expression::Compile("!(" + std::string(text) + ")");
  absl::StatusOr<Expression> anded =
      Expression::Compile("(" + std::string(text) + ") && true");
  for (const DeviceAttributes& d : Devices()) {
    bool r = e->Evaluate(d);
    if (negated.ok() && negated->Evaluate(d) == r) std::abort();
    if (anded.ok() && anded->Evaluate(d) != r) std::abort();
  }
  return 0;
}
