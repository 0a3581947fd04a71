// The built-in HttpClient (http_client.h) on libcurl's easy interface: one
// handle per call in flight, kept for reuse so connections stay open.
#include <curl/curl.h>

#include <vector>

#include "strata/base/mutex.h"
#include "strata/base/strings.h"
#include "strata/client/http_client.h"

namespace strata::client {
namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;

struct Exchange {
  HttpResponseSink* sink;
  HttpHeaders headers;
  bool head_sent = false;
  bool stopped = false;
  CURL* curl;
  const std::atomic<bool>* cancelled = nullptr;

  void SendHead() {
    if (head_sent) return;
    head_sent = true;
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    sink->OnHead(static_cast<int>(code), headers);
  }
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* x = static_cast<Exchange*>(user);
  std::string_view line(data, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
    line.remove_suffix(1);
  if (line.rfind("HTTP/", 0) == 0) {
    x->headers.clear();  // a new response (after 100 Continue)
  } else if (const size_t colon = line.find(':');
             colon != std::string_view::npos) {
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    x->headers.emplace_back(std::string(line.substr(0, colon)),
                            std::string(value));
  }
  return size * n;
}

size_t OnWrite(char* data, size_t size, size_t n, void* user) {
  auto* x = static_cast<Exchange*>(user);
  x->SendHead();
  if (!x->sink->OnBody(std::string_view(data, size * n))) {
    x->stopped = true;
    return 0;  // aborts the transfer
  }
  return size * n;
}

// libcurl calls this about once a second even when no byte moves: a
// cancelled call stops within a second.
int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* x = static_cast<Exchange*>(user);
  if (x->cancelled == nullptr || !x->cancelled->load()) return 0;
  x->stopped = true;
  return 1;  // aborts the transfer
}

class CurlHttpClient : public HttpClient {
 public:
  explicit CurlHttpClient(CurlHttpOptions options)
      : options_(std::move(options)) {}

  absl::Status Send(const HttpCall& call, HttpResponseSink& sink) override {
    CurlHandle curl = Take();
    if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
    CURL* c = curl.get();
    curl_easy_reset(c);
    Exchange x{&sink, {}, false, false, c, call.cancelled.get()};
    char error[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(c, CURLOPT_URL, call.url.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(
        c, CURLOPT_TIMEOUT_MS,
        static_cast<long>(absl::ToInt64Milliseconds(call.timeout)));
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &OnHeader);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnWrite);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    if (call.cancelled != nullptr) {
      curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &OnProgress);
      curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
    }
    curl_easy_setopt(
        c, CURLOPT_HTTP_VERSION,
        options_.http2_cleartext
            ? static_cast<long>(CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE)
            : static_cast<long>(CURL_HTTP_VERSION_2TLS));
    if (options_.http2_cleartext) {
      // libcurl 7.88 (Debian 12) fails the second request on a reused
      // prior-knowledge h2c connection ("Error in the HTTP2 framing
      // layer", curl/curl#10634, fixed in 8.0): one connection a call.
      curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    }
    curl_blob ca{};
    if (!options_.ca_pem.empty()) {
      ca.data = const_cast<char*>(options_.ca_pem.data());
      ca.len = options_.ca_pem.size();
      ca.flags = CURL_BLOB_NOCOPY;
      curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
    }
    if (call.method == "POST") {
      curl_easy_setopt(c, CURLOPT_POST, 1L);
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, call.body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(call.body.size()));
    } else if (call.method != "GET") {
      return absl::InvalidArgumentError(
          StrCat("the curl client sends GET and POST, not ", call.method));
    }
    curl_slist* headers = curl_slist_append(nullptr, "Expect:");
    for (const auto& [k, v] : call.headers) {
      headers = curl_slist_append(headers, StrCat(k, ": ", v).c_str());
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    const CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(headers);
    if (rc == CURLE_OK) x.SendHead();  // an empty body
    const bool stopped = x.stopped;
    Give(std::move(curl));
    if (rc == CURLE_OK ||
        ((rc == CURLE_WRITE_ERROR || rc == CURLE_ABORTED_BY_CALLBACK) &&
         stopped)) {
      return absl::OkStatus();
    }
    const std::string why = StrCat(call.method, " ", call.url, ": ",
                                   error[0] ? error : curl_easy_strerror(rc));
    if (rc == CURLE_OPERATION_TIMEDOUT) {
      return absl::DeadlineExceededError(why);
    }
    return absl::UnavailableError(why);
  }

 private:
  CurlHandle Take() {
    {
      MutexLock lock(&mu_);
      if (!idle_.empty()) {
        CurlHandle h = std::move(idle_.back());
        idle_.pop_back();
        return h;
      }
    }
    return CurlHandle(curl_easy_init());
  }
  void Give(CurlHandle h) {
    MutexLock lock(&mu_);
    if (idle_.size() < 4) idle_.push_back(std::move(h));
  }

  const CurlHttpOptions options_;
  Mutex mu_;
  std::vector<CurlHandle> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<HttpClient>> NewCurlHttpClient(
    const CurlHttpOptions& options) {
  static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (init != CURLE_OK) {
    return absl::InternalError(
        StrCat("curl_global_init: ", curl_easy_strerror(init)));
  }
  return std::unique_ptr<HttpClient>(std::make_unique<CurlHttpClient>(options));
}

}  // namespace strata::client
