#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/time/time.h"
#include "strata/base/mutex.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/server/storage/object_store.h"

namespace strata::server {
namespace {

constexpr char kEmptySha256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string HmacBytes(std::string_view key, std::string_view data) {
  const Sha256Digest d = HmacSha256(key, data);
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

// The value of query parameter `name` in "a=1&b=2" (percent-decoded), or
// "" when absent.
std::string QueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name || eq == std::string_view::npos) continue;
    std::string out;
    std::string_view v = pair.substr(eq + 1);
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '%' && i + 2 < v.size()) {
        out += static_cast<char>(
            std::strtol(std::string(v.substr(i + 1, 2)).c_str(), nullptr, 16));
        i += 2;
      } else {
        out += v[i];
      }
    }
    return out;
  }
  return "";
}

// "host[:port]" of "scheme://host[:port][/...]".
std::string HostOf(std::string_view endpoint) {
  const size_t scheme = endpoint.find("://");
  std::string_view rest =
      scheme == std::string_view::npos ? endpoint : endpoint.substr(scheme + 3);
  return std::string(rest.substr(0, rest.find('/')));
}

void CurlGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t AppendBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct Response {
  long status = 0;
  std::string body;
};

class S3ObjectStore : public ObjectStore {
 public:
  S3ObjectStore(S3Location location, S3Credentials credentials, Clock* clock)
      : location_(std::move(location)),
        credentials_(std::move(credentials)),
        clock_(clock != nullptr ? clock : SystemClock()),
        host_(HostOf(location_.endpoint)) {
    CurlGlobalInit();
  }
  ~S3ObjectStore() override {
    for (CURL* c : idle_) curl_easy_cleanup(c);
  }

  absl::Status Put(std::string_view key, std::string_view data) override {
    STRATA_ASSIGN_OR_RETURN(Response r, Request("PUT", ObjectPath(key), data));
    if (r.status == 200) return absl::OkStatus();
    return Failure(r, StrCat("storing object ", key));
  }

  absl::StatusOr<std::optional<std::string>> Get(
      std::string_view key) override {
    STRATA_ASSIGN_OR_RETURN(Response r, Request("GET", ObjectPath(key), ""));
    if (r.status == 200) return std::optional<std::string>(std::move(r.body));
    if (r.status == 404) return std::nullopt;
    return Failure(r, StrCat("reading object ", key));
  }

  absl::Status Delete(std::string_view key) override {
    STRATA_ASSIGN_OR_RETURN(Response r, Request("DELETE", ObjectPath(key), ""));
    if (r.status == 204 || r.status == 200 || r.status == 404) {
      return absl::OkStatus();
    }
    return Failure(r, StrCat("deleting object ", key));
  }

  absl::Status Check() override {
    // HeadBucket: there, and these credentials may use it.
    STRATA_ASSIGN_OR_RETURN(
        Response r,
        Request("HEAD", StrCat("/", SigV4Encode(location_.bucket, false)), ""));
    if (r.status == 200) return absl::OkStatus();
    if (r.status == 404) {
      return absl::FailedPreconditionError(
          StrCat(Describe(),
                 ": the bucket does not exist; create it (e.g. "
                 "`aws s3 mb s3://",
                 location_.bucket, "`) or fix --blobs"));
    }
    return Failure(r, "checking the bucket");
  }

  std::string Describe() const override {
    return StrCat("s3://", location_.bucket, "/", location_.prefix, " at ",
                  location_.endpoint);
  }

 private:
  std::string ObjectPath(std::string_view key) const {
    return StrCat("/", SigV4Encode(location_.bucket, false), "/",
                  SigV4Encode(StrCat(location_.prefix, key), true));
  }

  absl::Status Failure(const Response& r, std::string_view what) const {
    std::string code;
    if (size_t a = r.body.find("<Code>"); a != std::string::npos) {
      const size_t b = r.body.find("</Code>", a);
      code = r.body.substr(a + 6, b == std::string::npos ? 0 : b - a - 6);
    }
    const std::string msg = StrCat(what, " in ", Describe(), ": HTTP ",
                                   r.status, code.empty() ? "" : " ", code);
    if (r.status == 403 || r.status == 401) {
      return absl::PermissionDeniedError(
          StrCat(msg,
                 "; check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and "
                 "the bucket's policy"));
    }
    if (r.status == 404) return absl::NotFoundError(msg);
    if (r.status >= 500 || r.status == 429) {
      return absl::UnavailableError(StrCat(msg, "; retry"));
    }
    return absl::InternalError(msg);
  }

  CURL* Handle() {
    {
      MutexLock lock(&mu_);
      if (!idle_.empty()) {
        CURL* c = idle_.back();
        idle_.pop_back();
        curl_easy_reset(c);
        return c;
      }
    }
    return curl_easy_init();
  }
  void Release(CURL* c) {
    MutexLock lock(&mu_);
    if (idle_.size() < 16) {
      idle_.push_back(c);
    } else {
      curl_easy_cleanup(c);
    }
  }

  absl::StatusOr<Response> Request(const std::string& method,
                                   const std::string& path,
                                   std::string_view body,
                                   const std::string& query = "") {
    const std::string amz_date =
        absl::FormatTime("%Y%m%dT%H%M%SZ", clock_->Now(), absl::UTCTimeZone());
    const std::string payload =
        body.empty() ? kEmptySha256 : Sha256::HexHash(body);
    SigV4Request sign;
    sign.method = method;
    sign.canonical_uri = path;
    sign.canonical_query = query;
    sign.headers = {{"host", host_},
                    {"x-amz-content-sha256", payload},
                    {"x-amz-date", amz_date}};
    if (!credentials_.session_token.empty()) {
      sign.headers.emplace_back("x-amz-security-token",
                                credentials_.session_token);
    }
    sign.payload_sha256 = payload;
    const std::string auth = SigV4Authorization(
        sign, credentials_, location_.region, "s3", amz_date);

    CURL* c = Handle();
    if (c == nullptr) return absl::ResourceExhaustedError("curl_easy_init");
    curl_slist* headers = nullptr;
    for (const auto& [k, v] : sign.headers) {
      headers = curl_slist_append(headers, StrCat(k, ": ", v).c_str());
    }
    headers =
        curl_slist_append(headers, StrCat("Authorization: ", auth).c_str());
    headers = curl_slist_append(headers, "Expect:");
    Response r;
    const std::string url =
        StrCat(location_.endpoint, path, query.empty() ? "" : "?", query);
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &AppendBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    if (method == "PUT") {
      headers =
          curl_slist_append(headers, "Content-Type: application/octet-stream");
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(body.size()));
    } else if (method == "HEAD") {
      curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (method != "GET") {
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    const CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
      curl_easy_cleanup(c);
      return absl::UnavailableError(
          StrCat(method, " ", url, ": the object store is unreachable (",
                 curl_easy_strerror(rc),
                 "); check --blobs' endpoint and that the store is up"));
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    Release(c);
    return r;
  }

  const S3Location location_;
  const S3Credentials credentials_;
  Clock* const clock_;
  const std::string host_;
  Mutex mu_;
  std::vector<CURL*> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

bool IsS3Url(std::string_view blobs) { return blobs.starts_with("s3://"); }

absl::StatusOr<S3Location> ParseS3Url(std::string_view url) {
  if (!IsS3Url(url)) {
    return absl::InvalidArgumentError(
        StrCat("--blobs '", url,
               "' is not an S3 URL: s3://BUCKET[/PREFIX]?endpoint="
               "http://HOST:PORT[&region=REGION]"));
  }
  std::string_view rest = url.substr(5);
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  S3Location loc;
  const size_t slash = rest.find('/');
  loc.bucket = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) {
    loc.prefix = std::string(rest.substr(slash + 1));
    if (!loc.prefix.empty() && loc.prefix.back() != '/') loc.prefix += '/';
  }
  if (loc.bucket.empty()) {
    return absl::InvalidArgumentError(
        StrCat("--blobs '", url, "' names no bucket (s3://BUCKET/...)"));
  }
  if (std::string region = QueryParam(query, "region"); !region.empty()) {
    loc.region = region;
  }
  loc.endpoint = QueryParam(query, "endpoint");
  if (loc.endpoint.empty()) {
    loc.endpoint = StrCat("https://s3.", loc.region, ".amazonaws.com");
  }
  while (!loc.endpoint.empty() && loc.endpoint.back() == '/') {
    loc.endpoint.pop_back();
  }
  if (!loc.endpoint.starts_with("http://") &&
      !loc.endpoint.starts_with("https://")) {
    return absl::InvalidArgumentError(
        StrCat("--blobs endpoint '", loc.endpoint,
               "' must start with http:// or https://"));
  }
  return loc;
}

absl::StatusOr<S3Credentials> S3CredentialsFromEnvironment() {
  const char* id = std::getenv("AWS_ACCESS_KEY_ID");
  const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
  if (id == nullptr || secret == nullptr || id[0] == '\0' ||
      secret[0] == '\0') {
    return absl::FailedPreconditionError(
        "--blobs s3://... needs the object store's credentials in the "
        "environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and "
        "AWS_SESSION_TOKEN for temporary ones)");
  }
  S3Credentials c{id, secret, ""};
  if (const char* token = std::getenv("AWS_SESSION_TOKEN"); token != nullptr) {
    c.session_token = token;
  }
  return c;
}

std::string SigV4Encode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (std::isalnum(u) || ch == '-' || ch == '_' || ch == '.' || ch == '~' ||
        (keep_slash && ch == '/')) {
      out += ch;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

std::string SigV4CanonicalRequest(const SigV4Request& request) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [k, v] : request.headers) {
    headers.emplace_back(absl::AsciiStrToLower(k),
                         std::string(absl::StripAsciiWhitespace(v)));
  }
  std::sort(headers.begin(), headers.end());
  std::string canonical_headers;
  std::string signed_headers;
  for (const auto& [k, v] : headers) {
    canonical_headers += StrCat(k, ":", v, "\n");
    if (!signed_headers.empty()) signed_headers += ";";
    signed_headers += k;
  }
  return StrCat(request.method, "\n", request.canonical_uri, "\n",
                request.canonical_query, "\n", canonical_headers, "\n",
                signed_headers, "\n", request.payload_sha256);
}

std::string SigV4Authorization(const SigV4Request& request,
                               const S3Credentials& credentials,
                               std::string_view region,
                               std::string_view service,
                               std::string_view amz_date) {
  const std::string_view day = amz_date.substr(0, 8);
  const std::string scope =
      StrCat(day, "/", region, "/", service, "/aws4_request");
  const std::string canonical = SigV4CanonicalRequest(request);
  const std::string to_sign = StrCat("AWS4-HMAC-SHA256\n", amz_date, "\n",
                                     scope, "\n", Sha256::HexHash(canonical));
  std::string key =
      HmacBytes(StrCat("AWS4", credentials.secret_access_key), day);
  key = HmacBytes(key, region);
  key = HmacBytes(key, service);
  key = HmacBytes(key, "aws4_request");
  // The signed header names: the canonical request's next-to-last line.
  const size_t last = canonical.rfind('\n');
  const size_t before = canonical.rfind('\n', last - 1);
  const std::string signed_headers =
      canonical.substr(before + 1, last - before - 1);
  return StrCat("AWS4-HMAC-SHA256 Credential=", credentials.access_key_id, "/",
                scope, ",SignedHeaders=", signed_headers,
                ",Signature=", ToHex(HmacSha256(key, to_sign)));
}

absl::StatusOr<std::shared_ptr<ObjectStore>> OpenS3ObjectStore(
    const S3Location& location, S3Credentials credentials, Clock* clock) {
  return std::shared_ptr<ObjectStore>(
      std::make_shared<S3ObjectStore>(location, std::move(credentials), clock));
}

absl::StatusOr<std::shared_ptr<ObjectStore>> OpenBlobs(std::string_view blobs) {
  if (blobs.empty()) return std::shared_ptr<ObjectStore>();
  STRATA_ASSIGN_OR_RETURN(S3Location location, ParseS3Url(blobs));
  STRATA_ASSIGN_OR_RETURN(S3Credentials credentials,
                          S3CredentialsFromEnvironment());
  STRATA_ASSIGN_OR_RETURN(std::shared_ptr<ObjectStore> store,
                          OpenS3ObjectStore(location, std::move(credentials)));
  STRATA_RETURN_IF_ERROR(store->Check());
  return store;
}

}  // namespace strata::server
