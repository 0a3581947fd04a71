// Version comparison for app_version and os_version ("semver-aware"):
//
//   version    := core [ "-" prerelease ] [ "+" build ]
//   core       := number { "." number }          (1 to 8 numbers)
//   prerelease := ident { "." ident }            ident: [0-9A-Za-z-]+
//   build      := [0-9A-Za-z.-]+                 (ignored when comparing)
//
// Core numbers compare numerically (any length, leading zeros ignored) and a
// missing number counts as 0, so "10.3" == "10.3.0". A version with a
// pre-release sorts before the same core without one ("1.0.0-beta" <
// "1.0.0"); pre-release identifiers compare as in SemVer 2.0: numeric ones
// numerically, others byte-wise, numeric before alphanumeric, and a shorter
// list first when one is a prefix of the other. No allocation.
#ifndef STRATA_ROLLOUT_VERSION_COMPARE_H_
#define STRATA_ROLLOUT_VERSION_COMPARE_H_

#include <optional>
#include <string_view>

namespace strata::rollout {

// True if `v` follows the grammar above.
bool IsValidVersion(std::string_view v);

// -1, 0 or 1 as `a` sorts before, equal to or after `b`; nullopt if either
// is not a valid version.
std::optional<int> CompareVersions(std::string_view a, std::string_view b);

}  // namespace strata::rollout

#endif  // STRATA_ROLLOUT_VERSION_COMPARE_H_
