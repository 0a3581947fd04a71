#include "strata/base/server_address.h"

#include <cctype>

#include "strata/base/strings.h"

namespace strata {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool Has(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(c));
  return out;
}

// "host:port" with a default port; kInvalidArgument naming `what`.
absl::StatusOr<std::string> HostPort(std::string_view hostport,
                                     int default_port, std::string_view what) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        StrCat(what, ": ", why,
               "; write host:port, e.g. stratad.example.com:7443 or "
               "127.0.0.1:7443"));
  };
  if (hostport.empty()) return bad("no host");
  for (char c : hostport) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '/' || c == '?' ||
        c == '#' || c == '@') {
      return bad(std::isspace(static_cast<unsigned char>(c))
                     ? std::string("a blank has no place in a server address")
                     : StrCat("'", std::string(1, c),
                              "' has no place in a server address"));
    }
  }
  std::string_view host;
  std::string_view port;
  if (hostport.front() == '[') {
    const size_t close = hostport.find(']');
    if (close == std::string_view::npos) return bad("'[' without ']'");
    host = hostport.substr(0, close + 1);
    std::string_view rest = hostport.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("expected ':port' after ']'");
      port = rest.substr(1);
      if (port.empty()) return bad("empty port after ':'");
    }
  } else if (hostport.find(':') != hostport.rfind(':')) {
    // Several colons and no brackets: an IPv6 address without a port.
    return StrCat("[", hostport, "]:", default_port);
  } else if (const size_t colon = hostport.find(':');
             colon != std::string_view::npos) {
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
    if (port.empty()) return bad("empty port after ':'");
  } else {
    host = hostport;
  }
  if (host.empty()) return bad("no host before ':'");
  if (port.empty()) return StrCat(host, ":", default_port);
  int number = 0;
  for (char c : port) {
    if (c < '0' || c > '9' || port.size() > 5) {
      return bad(StrCat("port '", port, "' is not a number from 1 to 65535"));
    }
    number = number * 10 + (c - '0');
  }
  if (number < 1 || number > 65535) {
    return bad(StrCat("port '", port, "' is not a number from 1 to 65535"));
  }
  return StrCat(host, ":", port);
}

}  // namespace

absl::StatusOr<ServerAddress> ParseServerAddress(std::string_view value,
                                                 std::string_view flag) {
  const std::string what = StrCat(flag, " '", value, "'");
  const std::string lower = Lower(value);
  for (std::string_view grpc_scheme : {"dns:", "ipv4:", "ipv6:", "unix:"}) {
    if (StartsWith(lower, grpc_scheme)) {
      return ServerAddress{std::string(value), ""};
    }
  }
  const size_t scheme_end = value.find("://");
  if (scheme_end == std::string_view::npos) {
    absl::StatusOr<std::string> target =
        HostPort(value, kDefaultServerPort, what);
    if (!target.ok()) return target.status();
    return ServerAddress{*std::move(target), ""};
  }
  const std::string scheme = lower.substr(0, scheme_end);
  std::string_view rest = value.substr(scheme_end + 3);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (scheme != "https") {
    // What the user most likely meant, without the scheme.
    absl::StatusOr<std::string> meant =
        HostPort(rest, kDefaultServerPort, what);
    return absl::InvalidArgumentError(StrCat(
        what, " is a URL, but stratad speaks gRPC, not ", scheme,
        "://; give host:port",
        meant.ok() ? StrCat(" (", flag, " ", *meant, ")") : std::string(),
        ": TLS unless --plaintext, which is only for a loopback stratad "
        "without TLS"));
  }
  // An https URL: TLS to that host, on 443 unless it names a port.
  absl::StatusOr<std::string> target = HostPort(rest, 443, what);
  if (!target.ok()) return target.status();
  return ServerAddress{
      *target, StrCat(flag, " takes host:port, not a URL; using ", *target,
                      " (gRPC over TLS)")};
}

std::string ConnectFailureReason(std::string_view m) {
  if (Has(m, "DNS resolution failed") || Has(m, "Domain name not found") ||
      Has(m, "Could not resolve") || Has(m, "Name or service not known")) {
    // "DNS resolution failed for h:7443: ..." names the target.
    return "its host name does not resolve (DNS)";
  }
  if (Has(m, "Connection refused")) {
    return "connection refused: nothing listens on that port";
  }
  if (Has(m, "No route to host") || Has(m, "Network is unreachable")) {
    return "no route to that host (network unreachable)";
  }
  if (Has(m, "Connection timed out") || Has(m, "Timeout occurred") ||
      Has(m, "connect timed out")) {
    return "the connection timed out (a firewall, or no such host)";
  }
  if (Has(m, "failed to connect to all addresses")) {
    return "the connection failed";
  }
  return "";
}

std::string UnreachableMessage(std::string_view target, std::string_view reason,
                               std::string_view fix,
                               std::string_view grpc_message) {
  return StrCat("cannot reach stratad at ", target, ": ", reason, "; ", fix,
                " (gRPC: ", grpc_message, ")");
}

}  // namespace strata
