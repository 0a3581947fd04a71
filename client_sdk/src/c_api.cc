#include "strata/client/c_api.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strata/base/strings.h"
#include "strata/client/client.h"

struct strata_client {
  std::unique_ptr<strata::client::Client> client;
};

struct strata_cancel {
  std::shared_ptr<strata::client::CancelToken> token =
      std::make_shared<strata::client::CancelToken>();
};

struct strata_http_response {
  strata::client::HttpResponseSink* sink;
  // HttpCall::cancelled: null for requests the SDK never stops early.
  const std::atomic<bool>* cancelled = nullptr;
  bool head_sent = false;
};

void strata_http_response_head(strata_http_response* response, int status,
                               const char* const* header_names,
                               const char* const* header_values,
                               size_t header_count) {
  if (response == nullptr || response->head_sent) return;
  response->head_sent = true;
  strata::client::HttpHeaders headers;
  for (size_t i = 0; i < header_count; ++i) {
    if (header_names[i] == nullptr || header_values[i] == nullptr) continue;
    headers.emplace_back(header_names[i], header_values[i]);
  }
  response->sink->OnHead(status, headers);
}

int strata_http_response_body(strata_http_response* response, const void* data,
                              size_t size) {
  if (response == nullptr || !response->head_sent) return 0;
  return response->sink->OnBody(
             std::string_view(static_cast<const char*>(data), size))
             ? 1
             : 0;
}

int strata_http_response_cancelled(const strata_http_response* response) {
  return response != nullptr && response->cancelled != nullptr &&
                 response->cancelled->load()
             ? 1
             : 0;
}

namespace {

// ClientOptions::http_client over the host's function pointers.
class HostHttpClient : public strata::client::HttpClient {
 public:
  explicit HostHttpClient(strata_http_transport t) : t_(t) {}
  absl::Status Send(const strata::client::HttpCall& call,
                    strata::client::HttpResponseSink& sink) override {
    std::vector<const char*> names, values;
    for (const auto& [k, v] : call.headers) {
      names.push_back(k.c_str());
      values.push_back(v.c_str());
    }
    strata_http_response response{&sink, call.cancelled.get()};
    char error[512] = {};
    const int rc = t_.send(
        t_.user_data, call.method.c_str(), call.url.c_str(), names.data(),
        values.data(), names.size(), call.body.data(), call.body.size(),
        static_cast<uint64_t>(absl::ToInt64Milliseconds(call.timeout)),
        &response, error, sizeof(error) - 1);
    if (rc != 0) {
      const auto code = rc > 0 && rc <= 16 ? static_cast<absl::StatusCode>(rc)
                                           : absl::StatusCode::kUnavailable;
      return absl::Status(
          code, strata::StrCat("the host's HTTP transport: ", call.method, " ",
                               call.url, ": ", error));
    }
    if (!response.head_sent) {
      return absl::UnavailableError(strata::StrCat(
          "the host's HTTP transport returned 0 for ", call.method, " ",
          call.url, " without a response (strata_http_response_head)"));
    }
    return absl::OkStatus();
  }

 private:
  const strata_http_transport t_;
};

thread_local std::string last_error;
thread_local int last_error_code = 0;

int SetError(const absl::Status& s) {
  last_error_code = static_cast<int>(s.code());
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

// A layer argument by name.
absl::StatusOr<strata::client::Layer> LayerArg(const char* layer) {
  std::optional<strata::client::Layer> l =
      strata::client::ParseLayer(layer == nullptr ? "" : layer);
  if (!l.has_value()) {
    return absl::InvalidArgumentError(
        strata::StrCat("unknown layer '", layer == nullptr ? "" : layer,
                       "'; use config, h5, hcf, hotpatch or native"));
  }
  return *l;
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
  absl::StatusOr<strata::client::Layer> l = LayerArg(layer);
  if (!l.ok()) return SetError(l.status());
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
  if (o->network < 0 || o->network > 3) {
    SetError(absl::InvalidArgumentError(
        "network must be one of STRATA_NETWORK_* (0 to 3)"));
    return nullptr;
  }
  options.network = static_cast<strata::client::Network>(o->network);
  options.download_policy.daily_budget_bytes = o->daily_budget_bytes;
  options.server_url = Str(o->server_url);
  if (o->http_transport != nullptr) {
    if (o->http_transport->send == nullptr) {
      SetError(absl::InvalidArgumentError("http_transport->send is NULL"));
      return nullptr;
    }
    options.http_client = std::make_shared<HostHttpClient>(*o->http_transport);
  }
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

int strata_client_report_failure(strata_client* client, int kind,
                                 const char* exception_type,
                                 const char* const* frames, size_t frame_count,
                                 const char* host_hash, const char* layer,
                                 const char* module, const char* version,
                                 char** signature_id) {
  if (signature_id != nullptr) *signature_id = nullptr;
  if (client == nullptr || (frames == nullptr && frame_count > 0)) {
    return SetError(absl::InvalidArgumentError(
        "client must not be NULL, nor frames when frame_count > 0"));
  }
  if (kind < STRATA_FAILURE_CRASH || kind > STRATA_FAILURE_OTHER) {
    return SetError(absl::InvalidArgumentError(strata::StrCat(
        "failure kind ", kind, " is not one of STRATA_FAILURE_*")));
  }
  strata::client::FailureSignature f;
  f.kind = static_cast<strata::client::FailureKind>(kind);
  if (exception_type != nullptr) f.exception_type = exception_type;
  for (size_t i = 0; i < frame_count; ++i) {
    if (frames[i] == nullptr) {
      return SetError(
          absl::InvalidArgumentError(strata::StrCat("frame ", i, " is NULL")));
    }
    f.top_frames.emplace_back(frames[i]);
  }
  if (host_hash != nullptr) f.host_hash = host_hash;
  if (module != nullptr && *module != '\0') {
    absl::StatusOr<strata::client::Layer> l = LayerArg(layer);
    if (!l.ok()) return SetError(l.status());
    f.layer = *l;
    f.module = module;
    if (version != nullptr) f.version = version;
  }
  absl::StatusOr<std::string> id = client->client->ReportFailure(f);
  if (!id.ok()) return SetError(id.status());
  if (signature_id == nullptr) return SetError(absl::OkStatus());
  return SetError(CopyOut(*id, signature_id));
}

int strata_client_disabled_by(strata_client* client, const char* layer,
                              const char* module, char** remedy_id) {
  if (client == nullptr || layer == nullptr || module == nullptr ||
      remedy_id == nullptr) {
    return SetError(absl::InvalidArgumentError(
        "client, layer, module and remedy_id must not be NULL"));
  }
  *remedy_id = nullptr;
  absl::StatusOr<strata::client::Layer> l = LayerArg(layer);
  if (!l.ok()) return SetError(l.status());
  std::optional<std::string> by = client->client->DisabledBy(*l, module);
  if (!by.has_value()) return SetError(absl::OkStatus());
  return SetError(CopyOut(*by, remedy_id));
}

int strata_client_applied_remedies(strata_client* client, size_t* count) {
  if (client == nullptr || count == nullptr) {
    return SetError(
        absl::InvalidArgumentError("client and count must not be NULL"));
  }
  *count = client->client->AppliedRemedies().size();
  return SetError(absl::OkStatus());
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

int strata_client_set_network(strata_client* client, int network) {
  if (client == nullptr || network < 0 || network > 3) {
    return SetError(absl::InvalidArgumentError(
        "client must not be NULL and network one of STRATA_NETWORK_*"));
  }
  client->client->SetNetwork(static_cast<strata::client::Network>(network));
  return SetError(absl::OkStatus());
}

strata_cancel* strata_cancel_new(void) { return new strata_cancel; }
void strata_cancel_cancel(strata_cancel* cancel) {
  if (cancel != nullptr) cancel->token->Cancel();
}
void strata_cancel_free(strata_cancel* cancel) { delete cancel; }

int strata_client_open_module_with_progress(strata_client* client,
                                            const char* layer, const char* name,
                                            strata_progress_listener progress,
                                            void* user_data,
                                            strata_cancel* cancel,
                                            char** path) {
  strata::client::OpenOptions o;
  if (progress != nullptr) {
    o.on_progress = [progress,
                     user_data](const strata::client::DownloadProgress& p) {
      progress(user_data, p.received_bytes, p.content_bytes, p.done ? 1 : 0);
    };
  }
  if (cancel != nullptr) o.cancel = cancel->token;
  return ModulePath(client, layer, name, path,
                    [&o](strata::client::Client& c, strata::client::Layer l,
                         const char* n) { return c.OpenModule(l, n, o); });
}

int strata_client_prefetch(strata_client* client, const char* layer,
                           const char* name) {
  if (client == nullptr || layer == nullptr || name == nullptr) {
    return SetError(
        absl::InvalidArgumentError("client, layer and name must not be NULL"));
  }
  std::optional<strata::client::Layer> l = strata::client::ParseLayer(layer);
  if (!l.has_value()) {
    return SetError(absl::InvalidArgumentError(
        strata::StrCat("unknown layer '", layer,
                       "'; use config, h5, hcf, hotpatch or native")));
  }
  client->client->Prefetch({{*l, name}});
  return SetError(absl::OkStatus());
}

int strata_client_pending_downloads(strata_client* client, size_t* pending,
                                    size_t* mandatory) {
  if (client == nullptr) {
    return SetError(absl::InvalidArgumentError("client is NULL"));
  }
  if (pending != nullptr) *pending = client->client->PendingDownloads().size();
  if (mandatory != nullptr) {
    *mandatory = client->client->MandatoryUpdates().size();
  }
  return SetError(absl::OkStatus());
}

int strata_client_traffic(strata_client* client, int network, uint64_t* today,
                          uint64_t* total) {
  if (client == nullptr || network < 0 || network > 3) {
    return SetError(absl::InvalidArgumentError(
        "client must not be NULL and network one of STRATA_NETWORK_*"));
  }
  const strata::client::TrafficStats t = client->client->Traffic();
  const auto n = static_cast<strata::client::Network>(network);
  if (today != nullptr) *today = t.today.count(n) ? t.today.at(n) : 0;
  if (total != nullptr) *total = t.total.count(n) ? t.total.at(n) : 0;
  return SetError(absl::OkStatus());
}

int strata_client_on_resume(strata_client* client, size_t* activated) {
  if (client == nullptr) {
    return SetError(absl::InvalidArgumentError("client is NULL"));
  }
  auto r = client->client->OnResume();
  if (!r.ok()) return SetError(r.status());
  if (activated != nullptr) *activated = r->size();
  return SetError(absl::OkStatus());
}

const char* strata_last_error(void) { return last_error.c_str(); }

int strata_last_error_code(void) { return last_error_code; }

void strata_free(void* p) { std::free(p); }

}  // extern "C"
