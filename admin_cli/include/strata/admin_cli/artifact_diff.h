// `strata artifact diff`: what changed between two versions' content, as
// text for people and as one JSON object. Trees (ustar archives) by path,
// config documents by JSON Pointer, anything else as a byte summary.
#ifndef STRATA_ADMIN_CLI_ARTIFACT_DIFF_H_
#define STRATA_ADMIN_CLI_ARTIFACT_DIFF_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "strata/base/json.h"
#include "strata/v1/common.pb.h"

namespace strata::admin {

struct DiffSide {
  std::string name;  // "h5/mall-home@3"
  v1::Layer layer = v1::LAYER_UNSPECIFIED;
  std::string_view content;
};

struct ArtifactDiff {
  // {"kind":"tree"|"json"|"bytes","from":...,"to":..., ...} (docs/cli.md).
  Json json;
  std::string text;
};

// Both sides ustar archives: a tree diff (files added, removed, changed in
// content, mode, type or link target; directories are implied). Both
// CONFIG and JSON: a diff of keys (objects recursively; arrays and other
// values compared whole). Otherwise sizes, hashes and the first differing
// byte. kInvalidArgument for an archive that does not read.
absl::StatusOr<ArtifactDiff> DiffContent(const DiffSide& from,
                                         const DiffSide& to);

}  // namespace strata::admin

#endif  // STRATA_ADMIN_CLI_ARTIFACT_DIFF_H_
