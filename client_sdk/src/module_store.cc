#include "module_store.h"

#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::client {
namespace {

constexpr char kState[] = "state";
constexpr char kBlobSuffix[] = ".blob";
constexpr std::string_view kLayerDirs[] = {"unspecified", "config",   "h5",
                                           "hcf",         "hotpatch", "native"};

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

absl::StatusOr<ModuleStore> ModuleStore::Open(FileSystem* fs,
                                              std::string root) {
  ModuleStore store(fs, std::move(root));
  const std::string modules = JoinPath(store.root_, "modules");
  STRATA_RETURN_IF_ERROR(CreateDirs(*fs, modules));
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> layers,
                          fs->ListDir(modules));
  for (const std::string& layer : layers) {
    const std::string layer_dir = JoinPath(modules, layer);
    STRATA_ASSIGN_OR_RETURN(std::vector<std::string> names,
                            fs->ListDir(layer_dir));
    for (const std::string& name : names) {
      STRATA_RETURN_IF_ERROR(store.CleanModuleDir(JoinPath(layer_dir, name)));
    }
  }
  return store;
}

absl::Status ModuleStore::CleanModuleDir(const std::string& dir) {
  std::string keep;
  absl::StatusOr<std::string> state = fs_->ReadFile(JoinPath(dir, kState));
  if (state.ok()) {
    v1::InstalledModule m;
    if (!m.ParseFromString(*state)) {
      return absl::DataLossError(StrCat("state file in ", dir, " is corrupt"));
    }
    keep = StrCat(m.content_sha256(), kBlobSuffix);
  } else if (!absl::IsNotFound(state.status())) {
    return state.status();
  }
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> files, fs_->ListDir(dir));
  bool removed = false;
  for (const std::string& f : files) {
    if (f == kState || f == keep) continue;
    if (EndsWith(f, ".tmp") || EndsWith(f, kBlobSuffix)) {
      STRATA_RETURN_IF_ERROR(fs_->DeleteFile(JoinPath(dir, f)));
      removed = true;
    }
  }
  if (removed) STRATA_RETURN_IF_ERROR(fs_->SyncDir(dir));
  return absl::OkStatus();
}

std::string ModuleStore::ModuleDir(const v1::ModuleId& id) const {
  const int layer = static_cast<int>(id.layer());
  const std::string_view layer_dir =
      layer >= 0 && layer < 6 ? kLayerDirs[layer] : kLayerDirs[0];
  return JoinPath(JoinPath(JoinPath(root_, "modules"), layer_dir), id.name());
}

absl::Status ModuleStore::Install(const v1::InstalledModule& module,
                                  std::string_view content) {
  const std::string actual = Sha256::HexHash(content);
  if (actual != module.content_sha256()) {
    return absl::DataLossError(
        StrCat("content of ", module.module().name(), " ", module.version(),
               " hashes to ", actual, ", expected ", module.content_sha256()));
  }
  const std::string dir = ModuleDir(module.module());
  STRATA_RETURN_IF_ERROR(CreateDirs(*fs_, dir));
  STRATA_ASSIGN_OR_RETURN(std::optional<v1::InstalledModule> previous,
                          Get(module.module()));
  const std::string blob =
      JoinPath(dir, StrCat(module.content_sha256(), kBlobSuffix));
  STRATA_RETURN_IF_ERROR(WriteFileAtomically(*fs_, blob, content));
  // The switch: after this rename the new version is the active one.
  STRATA_RETURN_IF_ERROR(WriteFileAtomically(*fs_, JoinPath(dir, kState),
                                             module.SerializeAsString()));
  if (previous.has_value() &&
      previous->content_sha256() != module.content_sha256()) {
    // Garbage either way; Open() collects it if this fails.
    (void)fs_->DeleteFile(
        JoinPath(dir, StrCat(previous->content_sha256(), kBlobSuffix)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<v1::InstalledModule>> ModuleStore::Get(
    const v1::ModuleId& id) const {
  absl::StatusOr<std::string> state =
      fs_->ReadFile(JoinPath(ModuleDir(id), kState));
  if (absl::IsNotFound(state.status())) return std::nullopt;
  STRATA_RETURN_IF_ERROR(state.status());
  v1::InstalledModule m;
  if (!m.ParseFromString(*state)) {
    return absl::DataLossError(
        StrCat("state of module ", id.name(), " is corrupt"));
  }
  return m;
}

absl::StatusOr<std::string> ModuleStore::ReadContent(
    const v1::InstalledModule& module) const {
  STRATA_ASSIGN_OR_RETURN(
      std::string content,
      fs_->ReadFile(JoinPath(ModuleDir(module.module()),
                             StrCat(module.content_sha256(), kBlobSuffix))));
  if (Sha256::HexHash(content) != module.content_sha256()) {
    return absl::DataLossError(
        StrCat("installed content of ", module.module().name(),
               " is damaged; it will be downloaded again"));
  }
  return content;
}

absl::StatusOr<std::vector<v1::InstalledModule>> ModuleStore::List() const {
  std::vector<v1::InstalledModule> out;
  const std::string modules = JoinPath(root_, "modules");
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> layers,
                          fs_->ListDir(modules));
  for (const std::string& layer : layers) {
    STRATA_ASSIGN_OR_RETURN(std::vector<std::string> names,
                            fs_->ListDir(JoinPath(modules, layer)));
    for (const std::string& name : names) {
      absl::StatusOr<std::string> state = fs_->ReadFile(
          JoinPath(JoinPath(JoinPath(modules, layer), name), kState));
      if (absl::IsNotFound(state.status())) continue;
      STRATA_RETURN_IF_ERROR(state.status());
      v1::InstalledModule m;
      if (!m.ParseFromString(*state)) {
        return absl::DataLossError(
            StrCat("state of module ", name, " is corrupt"));
      }
      out.push_back(std::move(m));
    }
  }
  return out;
}

}  // namespace strata::client
