#include "strata/client/client.h"

#include <mutex>

#include "module_store.h"
#include "strata/base/names.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "transport.h"

namespace strata::client {
namespace {

constexpr std::string_view kLayerNames[] = {"",    "config",   "h5",
                                            "hcf", "hotpatch", "native"};

v1::ModuleId ToProto(Layer layer, std::string_view name) {
  v1::ModuleId id;
  id.set_layer(static_cast<v1::Layer>(layer));
  id.set_name(std::string(name));
  return id;
}

InstalledModule FromProto(const v1::InstalledModule& m) {
  return InstalledModule{static_cast<Layer>(m.module().layer()),
                         m.module().name(), m.version(), m.content_sha256(),
                         m.release_sequence()};
}

v1::DeviceContext ToProto(const std::string& app_id, const DeviceInfo& d) {
  v1::DeviceContext c;
  c.set_app_id(app_id);
  c.set_device_id(d.device_id);
  c.set_user_id(d.user_id);
  c.set_app_version(d.app_version);
  c.set_host_build(d.host_build);
  c.set_os(d.os);
  c.set_os_version(d.os_version);
  c.set_device_model(d.device_model);
  c.set_region(d.region);
  c.set_channel(d.channel);
  c.set_network(d.network);
  c.set_locale(d.locale);
  c.set_runtime_version(d.runtime_version);
  c.set_sdk_version("0.1.0");
  for (const auto& [k, v] : d.attributes) (*c.mutable_attributes())[k] = v;
  return c;
}

}  // namespace

std::string_view LayerName(Layer layer) {
  return kLayerNames[static_cast<int>(layer)];
}

std::optional<Layer> ParseLayer(std::string_view name) {
  for (int i = 1; i <= 5; ++i) {
    if (kLayerNames[i] == name) return static_cast<Layer>(i);
  }
  return std::nullopt;
}

struct Client::Impl {
  ClientOptions options;
  Env env;
  std::unique_ptr<Transport> transport;
  std::optional<ModuleStore> store;
  std::mutex mu;  // one check or install at a time

  absl::StatusOr<std::string> Fetch(const v1::UpdateEntry& entry) {
    const v1::ArtifactStatement& st = entry.statement();
    if (!entry.inline_content().empty() || st.size() == 0) {
      return entry.inline_content();
    }
    std::string content;
    STRATA_RETURN_IF_ERROR(transport->Download(
        st.content_sha256(), 0,
        [&](const v1::DownloadChunk& chunk) -> absl::Status {
          if (chunk.offset() != content.size()) {
            return absl::DataLossError(StrCat("server sent offset ",
                                              chunk.offset(), ", expected ",
                                              content.size()));
          }
          if (content.size() + chunk.data().size() > st.size()) {
            return absl::DataLossError(StrCat("server sent more than the ",
                                              st.size(),
                                              " bytes the statement declares"));
          }
          content.append(chunk.data());
          return absl::OkStatus();
        }));
    return content;
  }

  absl::Status Apply(const v1::UpdateEntry& entry,
                     v1::InstalledModule* installed) {
    const v1::ArtifactStatement& st = entry.statement();
    // The module name becomes a directory name: refuse anything unsafe.
    STRATA_RETURN_IF_ERROR(ValidateName("module name", entry.module().name()));
    STRATA_RETURN_IF_ERROR(ValidateName("version", st.version()));
    if (entry.module().layer() < v1::LAYER_CONFIG ||
        entry.module().layer() > v1::LAYER_NATIVE_BUNDLE) {
      return absl::InvalidArgumentError("update names an unknown layer");
    }
    if (st.app_id() != options.app_id) {
      return absl::PermissionDeniedError(StrCat(
          "update is for app '", st.app_id(), "', not '", options.app_id, "'"));
    }
    if (st.module().layer() != entry.module().layer() ||
        st.module().name() != entry.module().name()) {
      return absl::PermissionDeniedError(
          "statement names another module than the plan");
    }
    STRATA_ASSIGN_OR_RETURN(std::optional<v1::InstalledModule> current,
                            store->Get(entry.module()));
    if (current.has_value() &&
        current->release_sequence() > entry.release_sequence()) {
      return absl::PermissionDeniedError(
          StrCat("release sequence ", entry.release_sequence(),
                 " is lower than the installed ", current->release_sequence(),
                 " (replayed or stale plan)"));
    }
    STRATA_ASSIGN_OR_RETURN(std::string content, Fetch(entry));
    if (content.size() != st.size()) {
      return absl::DataLossError(
          StrCat("received ", content.size(), " bytes, expected ", st.size()));
    }
    installed->mutable_module()->CopyFrom(entry.module());
    installed->set_version(st.version());
    installed->set_content_sha256(st.content_sha256());
    installed->set_release_sequence(entry.release_sequence());
    return store->Install(*installed, content);
  }
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

absl::StatusOr<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  std::string address = options.server_address;
  return CreateWithTransport(std::move(options), NewGrpcTransport(address));
}

absl::StatusOr<std::unique_ptr<Client>> Client::CreateWithTransport(
    ClientOptions options, std::unique_ptr<Transport> transport) {
  if (options.app_id.empty()) {
    return absl::InvalidArgumentError("ClientOptions.app_id is empty");
  }
  if (options.device.device_id.empty()) {
    return absl::InvalidArgumentError(
        "ClientOptions.device.device_id is empty");
  }
  if (options.storage_dir.empty()) {
    return absl::InvalidArgumentError(
        "ClientOptions.storage_dir is empty; give the SDK a private directory");
  }
  auto impl = std::make_unique<Impl>();
  impl->env = options.env.value_or(Env::Default());
  impl->options = std::move(options);
  impl->transport = std::move(transport);
  STRATA_ASSIGN_OR_RETURN(
      ModuleStore store,
      ModuleStore::Open(impl->env.fs, impl->options.storage_dir));
  impl->store.emplace(std::move(store));
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

absl::StatusOr<CheckResult> Client::Check() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  v1::CheckRequest request;
  *request.mutable_device() =
      ToProto(impl_->options.app_id, impl_->options.device);
  STRATA_ASSIGN_OR_RETURN(std::vector<v1::InstalledModule> installed,
                          impl_->store->List());
  for (auto& m : installed) *request.add_installed() = std::move(m);
  STRATA_ASSIGN_OR_RETURN(v1::CheckResponse response,
                          impl_->transport->Check(request));
  CheckResult result;
  for (const v1::UpdateEntry& entry : response.plan().updates()) {
    v1::InstalledModule done;
    absl::Status s = impl_->Apply(entry, &done);
    if (s.ok()) {
      result.installed.push_back(FromProto(done));
    } else {
      result.failures.push_back(StrCat(entry.module().name(), " ",
                                       entry.statement().version(), ": ",
                                       ToStd(s.message())));
    }
  }
  return result;
}

absl::StatusOr<std::optional<std::string>> Client::GetConfig(
    std::string_view name) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  STRATA_ASSIGN_OR_RETURN(std::optional<v1::InstalledModule> m,
                          impl_->store->Get(ToProto(Layer::kConfig, name)));
  if (!m.has_value()) return std::nullopt;
  STRATA_ASSIGN_OR_RETURN(std::string content, impl_->store->ReadContent(*m));
  return content;
}

std::optional<InstalledModule> Client::Installed(Layer layer,
                                                 std::string_view name) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  absl::StatusOr<std::optional<v1::InstalledModule>> m =
      impl_->store->Get(ToProto(layer, name));
  if (!m.ok() || !m->has_value()) return std::nullopt;
  return FromProto(**m);
}

std::vector<InstalledModule> Client::AllInstalled() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<InstalledModule> out;
  absl::StatusOr<std::vector<v1::InstalledModule>> all = impl_->store->List();
  if (!all.ok()) return out;
  for (const auto& m : *all) out.push_back(FromProto(m));
  return out;
}

}  // namespace strata::client
