#include "strata/server/http/http_router.h"

#include <memory>

#include "strata/base/strings.h"

namespace strata::server {

HttpResponse TextResponse(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers["Content-Type"] = "text/plain; charset=utf-8";
  r.body = std::move(body) + "\n";
  return r;
}

HttpRouter& HttpRouter::Exact(std::string path,
                              std::vector<std::string> methods, Route route) {
  entries_.push_back(
      Entry{std::move(path), false, std::move(methods), std::move(route)});
  return *this;
}

HttpRouter& HttpRouter::Prefix(std::string prefix,
                               std::vector<std::string> methods, Route route) {
  entries_.push_back(
      Entry{std::move(prefix), true, std::move(methods), std::move(route)});
  return *this;
}

HttpRouter& HttpRouter::OnResponse(
    std::function<void(const HttpRequest&, const HttpResponse&)> observer) {
  observer_ = std::move(observer);
  return *this;
}

HttpResponse HttpRouter::Handle(const HttpRequest& req) const {
  std::string_view path = req.path;
  path = path.substr(0, path.find('?'));
  const Entry* best = nullptr;
  for (const Entry& e : entries_) {
    const bool match =
        e.prefix ? path.substr(0, e.path.size()) == e.path : path == e.path;
    if (!match) continue;
    if (best == nullptr || (best->prefix && !e.prefix) ||
        (best->prefix == e.prefix && e.path.size() > best->path.size())) {
      best = &e;
    }
  }
  HttpResponse r;
  if (best == nullptr) {
    r = TextResponse(404,
                     "not found; try /console/, /v1/blobs/<sha256>, "
                     "/v1/tuf/<app>/timestamp.json or /metrics");
  } else if (std::find(best->methods.begin(), best->methods.end(),
                       req.method) == best->methods.end()) {
    std::string allow;
    for (const std::string& m : best->methods)
      allow += allow.empty() ? m : ", " + m;
    r = TextResponse(405, StrCat("only ", allow, " on this path"));
    r.headers["Allow"] = allow;
  } else {
    r = best->route(req, best->prefix ? path.substr(best->path.size())
                                      : std::string_view());
  }
  if (observer_) observer_(req, r);
  return r;
}

HttpHandler HttpRouter::AsHandler() && {
  auto router = std::make_shared<const HttpRouter>(std::move(*this));
  return [router](const HttpRequest& req) { return router->Handle(req); };
}

}  // namespace strata::server
