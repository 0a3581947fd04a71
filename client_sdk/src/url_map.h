// Offline-package URLs (mPaaS's virtual domains): which tree file serves a
// page's URL. Pure string rules; the Client (client.cc) finds the modules
// and their trees.
//
// A tree declares the URL prefixes it serves in its root file
// `strata-package.json`: {"url_prefixes": ["https://mall.example.com/"]}.
// The file is part of the published archive, so it is signed with it.
#ifndef STRATA_CLIENT_SRC_URL_MAP_H_
#define STRATA_CLIENT_SRC_URL_MAP_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace strata::client {

inline constexpr std::string_view kPackageFile = "strata-package.json";
// (The rules are client_sdk/shared/url_rules.h, shared with the device
// core; these wrap them in absl::Status.)

// The prefixes of a `strata-package.json`. Each must be an absolute
// http(s) URL with a host, ending in '/', without query or fragment.
// kInvalidArgument naming what is wrong. A file without "url_prefixes"
// declares none.
absl::StatusOr<std::vector<std::string>> ParseUrlPrefixes(
    std::string_view json);

// Whether `url` lies under `prefix`: scheme and host compared without
// case, the path byte for byte.
bool UrlHasPrefix(std::string_view url, std::string_view prefix);

// The path in the tree for `rest`, what follows the prefix of a URL:
// query and fragment dropped, percent-decoded, "" or a trailing '/' ->
// index.html. kInvalidArgument for a path that could leave the tree or
// name something else than it says: "." or ".." components (also
// encoded), a backslash, NUL or control characters, an encoded '/', a
// malformed escape, "//".
absl::StatusOr<std::string> TreePathOfUrl(std::string_view rest);

}  // namespace strata::client

#endif  // STRATA_CLIENT_SRC_URL_MAP_H_
