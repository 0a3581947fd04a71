#ifndef STRATA_ADMIN_CLI_SRC_COMMANDS_LAYER_FLAG_H_
#define STRATA_ADMIN_CLI_SRC_COMMANDS_LAYER_FLAG_H_

#include <map>
#include <string>

#include "strata/v1/common.pb.h"

namespace strata::admin {

// The names users type for layers.
inline const std::map<std::string, v1::Layer>& LayerNames() {
  static const auto* names =
      new std::map<std::string, v1::Layer>{{"config", v1::LAYER_CONFIG},
                                           {"h5", v1::LAYER_H5},
                                           {"hcf", v1::LAYER_HCF},
                                           {"hotpatch", v1::LAYER_HOTPATCH},
                                           {"native", v1::LAYER_NATIVE_BUNDLE}};
  return *names;
}

// v1::LAYER_H5 -> "h5".
inline std::string LayerFlagName(v1::Layer layer) {
  for (const auto& [name, value] : LayerNames()) {
    if (value == layer) return name;
  }
  return "unknown";
}

}  // namespace strata::admin

#endif  // STRATA_ADMIN_CLI_SRC_COMMANDS_LAYER_FLAG_H_
