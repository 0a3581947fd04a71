#include "strata/client/c_api.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "strata/base/strings.h"
#include "strata/client/client.h"

struct strata_client {
  std::unique_ptr<strata::client::Client> client;
};

namespace {

thread_local std::string last_error;

int SetError(const absl::Status& s) {
  if (s.ok()) {
    last_error.clear();
    return 0;
  }
  last_error = strata::StrCat(absl::StatusCodeToString(s.code()), ": ",
                              strata::ToStd(s.message()));
  return static_cast<int>(s.code());
}

std::string Str(const char* s) { return s == nullptr ? "" : s; }

// A malloc'ed NUL-terminated copy of `s` in *out (free with strata_free).
absl::Status CopyOut(const std::string& s, char** out) {
  *out = static_cast<char*>(std::malloc(s.size() + 1));
  if (*out == nullptr) return absl::ResourceExhaustedError("out of memory");
  std::memcpy(*out, s.c_str(), s.size() + 1);
  return absl::OkStatus();
}

// A path-returning call on one module (`layer` by name): the checks of
// the arguments, then `fn`'s path copied out.
template <typename Fn>
int ModulePath(strata_client* client, const char* layer, const char* name,
               char** path, const Fn& fn) {
  if (client == nullptr || layer == nullptr || name == nullptr ||
      path == nullptr) {
    return SetError(absl::InvalidArgumentError(
        "client, layer, name and path must not be NULL"));
  }
  *path = nullptr;
  std::optional<strata::client::Layer> l = strata::client::ParseLayer(layer);
  if (!l.has_value()) {
    return SetError(absl::InvalidArgumentError(
        strata::StrCat("unknown layer '", layer,
                       "'; use config, h5, hcf, hotpatch or native")));
  }
  absl::StatusOr<std::string> r = fn(*client->client, *l, name);
  if (!r.ok()) return SetError(r.status());
  return SetError(CopyOut(*r, path));
}

}  // namespace

extern "C" {

void strata_client_options_set_pinned_root(strata_client_options* options,
                                           const char* root_json) {
  if (options != nullptr) options->pinned_root_json = root_json;
}

void strata_client_options_set_insecure_skip_signature_verification_for_tests(
    strata_client_options* options, int insecure) {
  if (options != nullptr) {
    options->insecure_skip_signature_verification_for_tests = insecure;
  }
}

void strata_client_options_set_metadata_base_url(strata_client_options* options,
                                                 const char* url) {
  if (options != nullptr) options->metadata_base_url = url;
}

void strata_client_options_set_tls_ca_pem(strata_client_options* options,
                                          const char* ca_pem) {
  if (options != nullptr) options->tls_ca_pem = ca_pem;
}

void strata_client_options_set_tls_server_cert_pem(
    strata_client_options* options, const char* cert_pem) {
  if (options != nullptr) options->tls_server_cert_pem = cert_pem;
}

void strata_client_options_set_insecure_plaintext_to_loopback_for_tests(
    strata_client_options* options, int plaintext) {
  if (options != nullptr) {
    options->insecure_plaintext_to_loopback_for_tests = plaintext;
  }
}

strata_client* strata_client_create(const strata_client_options* o) {
  if (o == nullptr) {
    SetError(absl::InvalidArgumentError("options is NULL"));
    return nullptr;
  }
  strata::client::ClientOptions options;
  if (o->server_address != nullptr) options.server_address = o->server_address;
  options.app_id = Str(o->app_id);
  options.device.device_id = Str(o->device_id);
  options.device.user_id = Str(o->user_id);
  options.device.app_version = Str(o->app_version);
  options.device.host_build = Str(o->host_build);
  options.storage_dir = Str(o->storage_dir);
  options.embedded_dir = Str(o->embedded_dir);
  options.disk_budget_bytes = o->disk_budget_bytes;
  options.pinned_root_json = Str(o->pinned_root_json);
  options.insecure_skip_signature_verification_for_tests =
      o->insecure_skip_signature_verification_for_tests != 0;
  options.metadata_base_url = Str(o->metadata_base_url);
  options.tls_ca_pem = Str(o->tls_ca_pem);
  options.tls_server_cert_pem = Str(o->tls_server_cert_pem);
  options.insecure_plaintext_to_loopback_for_tests =
      o->insecure_plaintext_to_loopback_for_tests != 0;
  auto client = strata::client::Client::Create(std::move(options));
  if (!client.ok()) {
    SetError(client.status());
    return nullptr;
  }
  SetError(absl::OkStatus());
  return new strata_client{*std::move(client)};
}

void strata_client_destroy(strata_client* client) { delete client; }

int strata_client_check(strata_client* client, size_t* installed,
                        size_t* failed) {
  if (client == nullptr) {
    return SetError(absl::InvalidArgumentError("client is NULL"));
  }
  auto r = client->client->Check();
  if (!r.ok()) return SetError(r.status());
  if (installed != nullptr) *installed = r->installed.size();
  if (failed != nullptr) *failed = r->failures.size();
  return SetError(absl::OkStatus());
}

int strata_client_get_config(strata_client* client, const char* name,
                             char** value, size_t* size) {
  if (client == nullptr || name == nullptr || value == nullptr) {
    return SetError(
        absl::InvalidArgumentError("client, name and value must not be NULL"));
  }
  *value = nullptr;
  if (size != nullptr) *size = 0;
  auto r = client->client->GetConfig(name);
  if (!r.ok()) return SetError(r.status());
  if (r->has_value()) {
    const std::string& v = **r;
    char* out = static_cast<char*>(std::malloc(v.size() + 1));
    if (out == nullptr) {
      return SetError(absl::ResourceExhaustedError("out of memory"));
    }
    std::memcpy(out, v.data(), v.size());
    out[v.size()] = '\0';
    *value = out;
    if (size != nullptr) *size = v.size();
  }
  return SetError(absl::OkStatus());
}

int strata_client_open_module(strata_client* client, const char* layer,
                              const char* name, char** path) {
  return ModulePath(client, layer, name, path,
                    [](strata::client::Client& c, strata::client::Layer l,
                       const char* n) { return c.OpenModule(l, n); });
}

int strata_client_module_dir(strata_client* client, const char* layer,
                             const char* name, char** path) {
  return ModulePath(client, layer, name, path,
                    [](strata::client::Client& c, strata::client::Layer l,
                       const char* n) { return c.ModuleDir(l, n); });
}

int strata_client_resolve_url(strata_client* client, const char* url,
                              char** path) {
  if (client == nullptr || url == nullptr || path == nullptr) {
    return SetError(
        absl::InvalidArgumentError("client, url and path must not be NULL"));
  }
  *path = nullptr;
  auto r = client->client->ResolveUrl(url);
  if (!r.ok()) return SetError(r.status());
  if (!r->offline) return SetError(absl::OkStatus());
  return SetError(CopyOut(r->path, path));
}

int strata_client_begin_launch(strata_client* client, size_t* rolled_back) {
  if (client == nullptr) {
    return SetError(absl::InvalidArgumentError("client is NULL"));
  }
  auto r = client->client->BeginLaunch();
  if (!r.ok()) return SetError(r.status());
  if (rolled_back != nullptr) *rolled_back = r->rolled_back.size();
  return SetError(absl::OkStatus());
}

int strata_client_mark_launch_healthy(strata_client* client) {
  if (client == nullptr) {
    return SetError(absl::InvalidArgumentError("client is NULL"));
  }
  return SetError(client->client->MarkLaunchHealthy());
}

int strata_client_start_config_watch(strata_client* client) {
  if (client == nullptr) {
    return SetError(absl::InvalidArgumentError("client is NULL"));
  }
  return SetError(client->client->StartConfigWatch());
}

int strata_client_stop_config_watch(strata_client* client) {
  if (client == nullptr) {
    return SetError(absl::InvalidArgumentError("client is NULL"));
  }
  client->client->StopConfigWatch();
  return SetError(absl::OkStatus());
}

int strata_client_add_config_listener(strata_client* client,
                                      strata_config_listener listener,
                                      void* user_data, int* id) {
  if (client == nullptr || listener == nullptr) {
    return SetError(
        absl::InvalidArgumentError("client and listener must not be NULL"));
  }
  const int added = client->client->AddConfigListener(
      [listener, user_data](const std::string& name,
                            const std::optional<std::string>& content) {
        listener(user_data, name.c_str(),
                 content.has_value() ? content->c_str() : nullptr,
                 content.has_value() ? content->size() : 0);
      });
  if (id != nullptr) *id = added;
  return SetError(absl::OkStatus());
}

int strata_client_remove_config_listener(strata_client* client, int id) {
  if (client == nullptr) {
    return SetError(absl::InvalidArgumentError("client is NULL"));
  }
  client->client->RemoveConfigListener(id);
  return SetError(absl::OkStatus());
}

const char* strata_last_error(void) { return last_error.c_str(); }

void strata_free(void* p) { std::free(p); }

}  // extern "C"
