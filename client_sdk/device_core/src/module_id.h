// One module of the device core's state: the same layer and name.
#ifndef STRATA_DEVICE_SRC_MODULE_ID_H_
#define STRATA_DEVICE_SRC_MODULE_ID_H_

#include "strata/device/v1/common.pb.h"

namespace strata::device::internal {

inline bool SameModule(const ::strata::device::v1::ModuleId& a,
                       const ::strata::device::v1::ModuleId& b) {
  return a.layer() == b.layer() && a.name() == b.name();
}

}  // namespace strata::device::internal

#endif  // STRATA_DEVICE_SRC_MODULE_ID_H_
