#include "request_head.h"

#include <cctype>
#include <string>

namespace strata::server::internal {
namespace {

// RFC 9110 5.6.2 tchar.
bool IsTokenChar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!IsTokenChar(c)) return false;
  return true;
}

bool IsControl(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

std::optional<HttpRequest> ParseRequestHead(std::string_view head,
                                            int* error_status) {
  *error_status = 400;
  // Every CR is followed by LF and every LF preceded by CR.
  for (size_t i = 0; i < head.size(); ++i) {
    if (head[i] == '\r' && (i + 1 >= head.size() || head[i + 1] != '\n'))
      return std::nullopt;
    if (head[i] == '\n' && (i == 0 || head[i - 1] != '\r')) return std::nullopt;
  }
  HttpRequest req;
  size_t line_end = head.find("\r\n");
  if (line_end == std::string_view::npos) line_end = head.size();
  const std::string_view line = head.substr(0, line_end);
  const size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return std::nullopt;
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos ||
      line.find(' ', sp2 + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method) || target.empty()) return std::nullopt;
  for (char c : target)
    if (IsControl(c)) return std::nullopt;
  const bool http11 = version == "HTTP/1.1";
  if (!http11 && version != "HTTP/1.0") return std::nullopt;
  req.method = std::string(method);
  req.path = std::string(target);

  int content_lengths = 0, transfer_encodings = 0, hosts = 0;
  size_t pos = line_end + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    const std::string_view field = head.substr(pos, end - pos);
    pos = end + 2;
    const size_t colon = field.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    // A leading blank (obs-fold) or a blank before the colon fails here.
    const std::string_view raw_name = field.substr(0, colon);
    if (!IsToken(raw_name)) return std::nullopt;
    const std::string_view value = TrimBlanks(field.substr(colon + 1));
    for (char c : value)
      if (IsControl(c) && c != '\t') return std::nullopt;
    std::string name = Lower(raw_name);
    if (name == "content-length") {
      if (++content_lengths > 1 || value.empty() || value.size() > 19)
        return std::nullopt;
      for (char c : value)
        if (c < '0' || c > '9') return std::nullopt;
    } else if (name == "transfer-encoding") {
      if (++transfer_encodings > 1 || !http11 || Lower(value) != "chunked")
        return std::nullopt;
    } else if (name == "host") {
      if (++hosts > 1) return std::nullopt;
    }
    req.headers[std::move(name)] = std::string(value);
  }
  if (content_lengths > 0 && transfer_encodings > 0) return std::nullopt;
  if (http11 && hosts != 1) return std::nullopt;
  *error_status = 0;
  return req;
}

}  // namespace strata::server::internal
