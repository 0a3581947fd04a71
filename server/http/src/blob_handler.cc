#include "strata/server/http/blob_handler.h"

#include "strata/base/sha256.h"
#include "strata/base/strings.h"

namespace strata::server {
namespace {

HttpResponse Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers["Content-Type"] = "text/plain; charset=utf-8";
  r.body = std::move(body) + "\n";
  return r;
}

HttpResponse ServeBlob(Store* store, const HttpRequest& req,
                       std::string_view sha) {
  if (!IsSha256Hex(sha))
    return Text(400, "blob names are 64 lowercase hex characters");
  absl::StatusOr<std::optional<BlobManifest>> manifest =
      store->GetBlobManifest(sha);
  if (!manifest.ok())
    return Text(500, std::string(ToStd(manifest.status().message())));
  if (!manifest->has_value()) return Text(404, "no such blob");
  const BlobManifest m = **manifest;
  const std::string etag = StrCat("\"", sha, "\"");

  HttpResponse r;
  // Content-addressed: the bytes behind a name never change.
  r.headers["ETag"] = etag;
  r.headers["Cache-Control"] = "public, max-age=31536000, immutable";
  r.headers["Accept-Ranges"] = "bytes";
  r.headers["Content-Type"] = "application/octet-stream";
  auto inm = req.headers.find("if-none-match");
  if (inm != req.headers.end() && (inm->second == etag || inm->second == "*")) {
    r.status = 304;
    r.headers["Content-Length"] = "0";
    return r;
  }
  uint64_t first = 0, last = m.size == 0 ? 0 : m.size - 1;
  uint64_t length = m.size;
  auto range = req.headers.find("range");
  // If-Range with another validator means "send it all".
  auto if_range = req.headers.find("if-range");
  bool honour_range =
      range != req.headers.end() &&
      (if_range == req.headers.end() || if_range->second == etag);
  if (honour_range) {
    std::optional<ByteRange> br = ParseRange(range->second, m.size);
    if (!br.has_value()) {
      HttpResponse bad = Text(416, "range not satisfiable");
      bad.headers["Content-Range"] = StrCat("bytes */", m.size);
      return bad;
    }
    first = br->first;
    last = br->last;
    length = last - first + 1;
    r.status = 206;
    r.headers["Content-Range"] =
        StrCat("bytes ", first, "-", last, "/", m.size);
  }
  r.headers["Content-Length"] = std::to_string(length);
  r.body_writer =
      [store, m, first, length](
          const std::function<bool(std::string_view)>& write) -> absl::Status {
    return StreamBlob(
        *store, m, first, length,
        [&](uint64_t, std::string_view piece) { return write(piece); });
  };
  return r;
}

}  // namespace

HttpHandler MakeBlobHandler(Store* store, Metrics* metrics) {
  return [store, metrics](const HttpRequest& req) -> HttpResponse {
    constexpr std::string_view kBlobs = "/v1/blobs/";
    std::string_view path = req.path;
    HttpResponse r;
    if (req.method != "GET" && req.method != "HEAD") {
      r = Text(405, "only GET and HEAD");
      r.headers["Allow"] = "GET, HEAD";
    } else if (path.substr(0, kBlobs.size()) == kBlobs) {
      r = ServeBlob(store, req, path.substr(kBlobs.size()));
    } else if (path == "/metrics") {
      r = Text(200, metrics->Render());
      r.headers["Content-Type"] = "text/plain; version=0.0.4";
    } else if (path == "/healthz") {
      r = Text(200, "ok");
    } else {
      r = Text(404, "not found; try /v1/blobs/<sha256> or /metrics");
    }
    metrics->Increment("strata_http_requests_total",
                       StrCat("code=\"", r.status, "\""));
    return r;
  };
}

}  // namespace strata::server
