// Installed content on the device, crash-safe.
//
// Layout under the storage directory:
//   modules/<layer>/<name>/state          which version is active (the switch)
//   modules/<layer>/<name>/<sha256>.blob  content, named by its hash
// Install writes and fsyncs the content, then switches by replacing `state`
// atomically. A crash at any instant leaves the old or the new version
// active; Open() removes leftovers (temp files, unreferenced blobs).
#ifndef STRATA_CLIENT_SRC_MODULE_STORE_H_
#define STRATA_CLIENT_SRC_MODULE_STORE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/base/env.h"
#include "strata/v1/delivery.pb.h"

namespace strata::client {

class ModuleStore {
 public:
  static absl::StatusOr<ModuleStore> Open(FileSystem* fs, std::string root);

  // Verifies `content` against `sha256`, then makes it the active version.
  absl::Status Install(const v1::InstalledModule& module,
                       std::string_view content);

  absl::StatusOr<std::optional<v1::InstalledModule>> Get(
      const v1::ModuleId& id) const;
  absl::StatusOr<std::string> ReadContent(
      const v1::InstalledModule& module) const;
  absl::StatusOr<std::vector<v1::InstalledModule>> List() const;

 private:
  ModuleStore(FileSystem* fs, std::string root)
      : fs_(fs), root_(std::move(root)) {}
  std::string ModuleDir(const v1::ModuleId& id) const;
  absl::Status CleanModuleDir(const std::string& dir);

  FileSystem* fs_;
  std::string root_;
};

}  // namespace strata::client

#endif  // STRATA_CLIENT_SRC_MODULE_STORE_H_
