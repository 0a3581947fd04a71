#include "strata/device/c_api.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "strata/device/device_core.h"

struct strata_device {
  std::unique_ptr<strata::device::DeviceCore> core;
};

struct strata_device_http_answer {
  strata::device::HttpResult* result;
  bool set = false;
};

namespace {

thread_local std::string last_error;

int Set(const strata::device::Error& e) {
  last_error = e.message;
  return e.code;
}

std::string Str(const char* s) { return s == nullptr ? "" : s; }

// *out: a malloc'ed copy of `s` (for the caller to free()).
strata::device::Error Copy(const std::string& s, char** out) {
  *out = static_cast<char*>(std::malloc(s.size() + 1));
  if (*out == nullptr) return {8, "out of memory"};
  std::memcpy(*out, s.c_str(), s.size() + 1);
  return {};
}

}  // namespace

namespace {
// *path: a malloc'ed copy of what `pick` gives for module `name` of
// `layer` (NULL when it is not installed or `pick` gives "").
int InstalledPath(strata_device* device, int layer, const char* name,
                  char** path,
                  std::string (*pick)(const strata::device::DeviceCore&,
                                      const strata::device::InstalledModule&)) {
  if (device == nullptr || name == nullptr || path == nullptr) {
    return Set({3, "device, name and path are required"});
  }
  *path = nullptr;
  for (const strata::device::InstalledModule& m : device->core->Installed()) {
    if (m.layer != layer || m.name != name) continue;
    const std::string p = pick(*device->core, m);
    if (!p.empty()) return Set(Copy(p, path));
    break;
  }
  return Set({});
}
}  // namespace

extern "C" {

void strata_device_http_answer_set(strata_device_http_answer* answer,
                                   int status, const char* strata_status,
                                   const void* body, size_t body_size) {
  if (answer == nullptr) return;
  answer->set = true;
  answer->result->status = status;
  answer->result->strata_status = Str(strata_status);
  answer->result->body.assign(static_cast<const char*>(body), body_size);
}

strata_device* strata_device_open(const strata_device_options* o) {
  if (o == nullptr || o->http_send == nullptr) {
    Set({3, "options and options->http_send are required"});
    return nullptr;
  }
  strata::device::DeviceCoreOptions options;
  options.server_url = Str(o->server_url);
  options.app_id = Str(o->app_id);
  options.device_id = Str(o->device_id);
  options.app_version = Str(o->app_version);
  options.host_build = Str(o->host_build);
  options.storage_dir = Str(o->storage_dir);
  for (size_t i = 0; i < o->publisher_key_count; ++i) {
    options.publisher_keys.push_back(
        {Str(o->publisher_key_ids[i]),
         std::string(reinterpret_cast<const char*>(o->publisher_keys[i]), 32)});
  }
  options.insecure_skip_signature_verification_for_tests =
      o->insecure_skip_signature_verification_for_tests != 0;
  const strata_device_http_send send = o->http_send;
  void* user_data = o->http_user_data;
  options.http = [send, user_data](const strata::device::HttpExchange& x,
                                   strata::device::HttpResult* r) {
    const char* names[16];
    const char* values[16];
    size_t n = 0;
    for (const auto& [k, v] : x.headers) {
      if (n == 16) break;
      names[n] = k.c_str();
      values[n] = v.c_str();
      ++n;
    }
    strata_device_http_answer answer{r};
    char error[512] = {};
    const int rc =
        send(user_data, x.method.c_str(), x.url.c_str(), names, values, n,
             x.body.data(), x.body.size(), &answer, error, sizeof(error) - 1);
    if (rc != 0) {
      return strata::device::Error{rc > 0 && rc <= 16 ? rc : 14,
                                   x.method + " " + x.url + ": " + error};
    }
    if (!answer.set) {
      return strata::device::Error{
          14,
          x.method + " " + x.url +
              ": the host returned 0 without strata_device_http_answer_set"};
    }
    return strata::device::Error{};
  };
  auto d = std::make_unique<strata_device>();
  const strata::device::Error e =
      strata::device::DeviceCore::Open(std::move(options), &d->core);
  if (!e.ok()) {
    Set(e);
    return nullptr;
  }
  Set({});
  return d.release();
}

void strata_device_close(strata_device* device) { delete device; }

int strata_device_check(strata_device* device, size_t* installed,
                        size_t* failed) {
  if (device == nullptr) return Set({3, "device is NULL"});
  strata::device::CheckOutcome outcome;
  const strata::device::Error e = device->core->Check(&outcome);
  if (installed != nullptr) *installed = outcome.installed.size();
  if (failed != nullptr) *failed = outcome.failures.size();
  return Set(e);
}

int strata_device_content_path(strata_device* device, int layer,
                               const char* name, char** path) {
  return InstalledPath(device, layer, name, path,
                       [](const strata::device::DeviceCore& core,
                          const strata::device::InstalledModule& m) {
                         return core.ContentPath(m);
                       });
}

int strata_device_tree_dir(strata_device* device, int layer, const char* name,
                           char** path) {
  return InstalledPath(
      device, layer, name, path,
      [](const strata::device::DeviceCore&,
         const strata::device::InstalledModule& m) { return m.tree_dir; });
}

int strata_device_fetch(strata_device* device, int layer, const char* name,
                        size_t* installed) {
  if (device == nullptr || name == nullptr) {
    return Set({3, "device and name are required"});
  }
  strata::device::CheckOutcome outcome;
  const strata::device::Error e = device->core->Fetch(layer, name, &outcome);
  if (installed != nullptr) *installed = outcome.installed.size();
  if (e.ok() && !outcome.failures.empty()) {
    return Set({13, outcome.failures.front()});
  }
  return Set(e);
}

void strata_device_set_network(strata_device* device, int network) {
  if (device != nullptr) device->core->SetNetwork(network);
}

int strata_device_resolve_url(strata_device* device, const char* url,
                              char** path, char** fallback_reason) {
  if (device == nullptr || url == nullptr || path == nullptr) {
    return Set({3, "device, url and path are required"});
  }
  *path = nullptr;
  if (fallback_reason != nullptr) *fallback_reason = nullptr;
  strata::device::UrlResolution r;
  const strata::device::Error e = device->core->ResolveUrl(url, &r);
  if (!e.ok()) return Set(e);
  if (r.offline) return Set(Copy(r.path, path));
  if (fallback_reason != nullptr)
    return Set(Copy(r.fallback_reason, fallback_reason));
  return Set({});
}

int strata_device_begin_launch(strata_device* device, size_t* rolled_back) {
  if (device == nullptr) return Set({3, "device is required"});
  strata::device::LaunchOutcome outcome;
  const strata::device::Error e = device->core->BeginLaunch(&outcome);
  if (rolled_back != nullptr) *rolled_back = outcome.rolled_back.size();
  return Set(e);
}

int strata_device_mark_launch_healthy(strata_device* device) {
  if (device == nullptr) return Set({3, "device is required"});
  return Set(device->core->MarkLaunchHealthy());
}

size_t strata_device_pending_reports(strata_device* device) {
  return device == nullptr ? 0 : device->core->PendingReports();
}

const char* strata_device_last_error(void) { return last_error.c_str(); }

}  // extern "C"
