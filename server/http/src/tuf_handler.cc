#include "strata/server/http/tuf_handler.h"

#include "request_head.h"
#include "strata/base/names.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"
#include "strata/signing/metadata.h"

namespace strata::server {
namespace {

HttpResponse Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers["Content-Type"] = "text/plain; charset=utf-8";
  r.headers["Cache-Control"] = "no-cache";
  r.body = std::move(body) + "\n";
  return r;
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

HttpResponse ServeTarget(TrustRepo* trust, Store* store, BlobCache* cache,
                         const HttpRequest& req, std::string_view app,
                         std::string_view path) {
  // <layer>/<sha256>.<module>@<counter>
  const size_t slash = path.find('/');
  if (slash == std::string_view::npos) return Text(404, "no such target");
  const std::string_view layer = path.substr(0, slash);
  const std::string_view file = path.substr(slash + 1);
  if (file.size() < 66 || file[64] != '.') return Text(404, "no such target");
  const std::string_view sha = file.substr(0, 64);
  const std::string name = StrCat(layer, "/", file.substr(65));
  std::shared_ptr<const TrustView> view = trust->View(app);
  const signing::TargetFile* target =
      view == nullptr ? nullptr : view->FindTarget(name);
  if (target == nullptr) return Text(404, "no such signed target");
  auto hash = target->hashes.find("sha256");
  if (hash == target->hashes.end() || hash->second != sha) {
    return Text(404, "no such signed target");
  }
  return ServeBlob(store, cache, req, sha);
}

// If-None-Match: "*" or a list of entity tags, compared weakly (RFC 9110
// 13.1.2).
bool NoneMatchHits(std::string_view header, std::string_view etag) {
  if (header == "*") return true;
  while (!header.empty()) {
    const size_t comma = header.find(',');
    std::string_view item = internal::TrimBlanks(header.substr(0, comma));
    if (item.substr(0, 2) == "W/") item.remove_prefix(2);
    if (item == etag) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = Hex(s[i + 1]), lo = Hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

HttpResponse ServeBlob(Store* store, BlobCache* cache, const HttpRequest& req,
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
  if (inm != req.headers.end() && NoneMatchHits(inm->second, etag)) {
    r.status = 304;
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
  if (req.method == "HEAD") {
    // The length without reading a byte.
    r.body_reader = [](uint64_t, uint64_t, std::string*) {
      return absl::OkStatus();
    };
    r.body_length = length;
    return r;
  }
  if (cache != nullptr && cache->Keeps(m.size)) {
    absl::StatusOr<std::shared_ptr<const std::string>> bytes = cache->Get(m);
    if (!bytes.ok()) {
      return Text(500, std::string(ToStd(bytes.status().message())));
    }
    if (*bytes != nullptr) {
      r.body_view = std::string_view(**bytes).substr(first, length);
      r.body_owner = *std::move(bytes);
      return r;
    }
  }
  r.body_length = length;
  r.body_reader = [store, m, first](uint64_t offset, uint64_t max,
                                    std::string* out) -> absl::Status {
    return StreamBlob(*store, m, first + offset, max,
                      [out](uint64_t, std::string_view piece) {
                        out->append(piece);
                        return true;
                      });
  };
  return r;
}

HttpResponse ServeTuf(TrustRepo* trust, Store* store, BlobCache* cache,
                      const HttpRequest& req, std::string_view rest) {
  if (trust == nullptr) return Text(404, "no trust repositories here");
  std::string_view raw = rest.substr(0, rest.find('?'));
  std::optional<std::string> decoded = PercentDecode(raw);
  if (!decoded.has_value()) return Text(400, "malformed path");
  std::string_view path = *decoded;
  const size_t slash = path.find('/');
  if (slash == std::string_view::npos) {
    return Text(404, "use /v1/tuf/<app>/<file>");
  }
  const std::string_view app = path.substr(0, slash);
  const std::string_view file = path.substr(slash + 1);
  if (!ValidateName("app", app).ok()) return Text(404, "no such app");
  constexpr std::string_view kTargets = "targets/";
  if (file.substr(0, kTargets.size()) == kTargets) {
    return ServeTarget(trust, store, cache, req, app,
                       file.substr(kTargets.size()));
  }
  if (file.find('/') != std::string_view::npos) {
    return Text(404, "no such metadata file");
  }
  absl::StatusOr<std::optional<std::string>> bytes = trust->File(app, file);
  if (!bytes.ok())
    return Text(500, std::string(ToStd(bytes.status().message())));
  if (!bytes->has_value()) return Text(404, "no such metadata file");
  HttpResponse r;
  r.headers["Content-Type"] = "application/json";
  const bool moving = file == "timestamp.json" || file == "director.json" ||
                      file == "root.json";
  r.headers["Cache-Control"] =
      moving ? "no-cache" : "public, max-age=31536000, immutable";
  const std::string etag = StrCat("\"", Sha256::HexHash(**bytes), "\"");
  r.headers["ETag"] = etag;
  auto inm = req.headers.find("if-none-match");
  if (inm != req.headers.end() && NoneMatchHits(inm->second, etag)) {
    r.status = 304;
    return r;
  }
  r.body = **std::move(bytes);
  return r;
}

}  // namespace strata::server
