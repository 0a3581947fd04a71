#include "strata/rollout/expression_explain.h"

#include <cctype>

#include "strata/base/strings.h"
#include "strata/rollout/expression.h"

namespace strata::rollout {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

// Whether the '(' at 0 closes at the very end of `s`.
bool WrappedInParens(std::string_view s) {
  if (s.size() < 2 || s.front() != '(' || s.back() != ')') return false;
  int depth = 0;
  bool quoted = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
      continue;
    }
    if (c == '"') {
      quoted = true;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      if (--depth == 0 && i + 1 != s.size()) return false;
    }
  }
  return depth == 0;
}

// The device's value of the field a comparison starts with, and its name.
bool FieldOf(std::string_view clause, const DeviceAttributes& d,
             std::string* name, std::string* value) {
  size_t end = 0;
  while (end < clause.size() &&
         (std::isalnum(static_cast<unsigned char>(clause[end])) ||
          clause[end] == '_' || clause[end] == '.' || clause[end] == '-')) {
    ++end;
  }
  const std::string_view f = clause.substr(0, end);
  *name = std::string(f);
  if (f.rfind("attr.", 0) == 0) {
    auto it = d.custom.find(f.substr(5));
    *value = it == d.custom.end() ? "" : it->second;
    return true;
  }
  const std::pair<std::string_view, const std::string*> fields[] = {
      {"app_version", &d.app_version}, {"os", &d.os},
      {"os_version", &d.os_version},   {"device_model", &d.device_model},
      {"region", &d.region},           {"channel", &d.channel},
      {"network", &d.network},         {"locale", &d.locale},
      {"user_id", &d.user_id},         {"device_id", &d.device_id}};
  for (const auto& [n, v] : fields) {
    if (n == f) {
      *value = *v;
      return true;
    }
  }
  return false;
}

std::string Describe(std::string_view clause, const DeviceAttributes& d) {
  std::string name, value;
  std::string out = StrCat("`", clause, "` is false");
  if (FieldOf(clause, d, &name, &value)) {
    out += value.empty() ? StrCat(": ", name, " is \"\" (not sent)")
                         : StrCat(": ", name, " is \"", value, "\"");
  }
  return out;
}

bool IsTrue(std::string_view clause, const DeviceAttributes& d, bool* ok) {
  absl::StatusOr<Expression> e = Expression::Compile(clause);
  *ok = e.ok();
  return e.ok() && e->Evaluate(d);
}

}  // namespace

std::vector<std::string> SplitClauses(std::string_view text,
                                      std::string_view op) {
  text = Trim(text);
  while (WrappedInParens(text)) text = Trim(text.substr(1, text.size() - 2));
  std::vector<std::string> out;
  int depth = 0;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
      continue;
    }
    if (c == '"') {
      quoted = true;
    } else if (c == '(' || c == '[') {
      ++depth;
    } else if (c == ')' || c == ']') {
      --depth;
    } else if (depth == 0 && text.substr(i, op.size()) == op) {
      out.emplace_back(Trim(text.substr(start, i - start)));
      start = i + op.size();
      i = start - 1;
    }
  }
  out.emplace_back(Trim(text.substr(start)));
  return out;
}

std::vector<std::string> ExplainFalseClauses(std::string_view text,
                                             const DeviceAttributes& device) {
  bool ok = false;
  if (IsTrue(text, device, &ok) || !ok) return {};
  std::vector<std::string> out;
  // A conjunction: the clauses that fail. Each failing clause that is
  // itself an alternative lists its alternatives.
  for (const std::string& clause : SplitClauses(text, "&&")) {
    if (IsTrue(clause, device, &ok)) continue;
    const std::vector<std::string> alternatives = SplitClauses(clause, "||");
    if (alternatives.size() == 1) {
      const std::vector<std::string> inner = SplitClauses(clause, "&&");
      if (inner.size() > 1) {
        // Parenthesized conjunction: explain inside it.
        for (std::string& line : ExplainFalseClauses(clause, device))
          out.push_back(std::move(line));
      } else {
        out.push_back(Describe(clause, device));
      }
      continue;
    }
    std::string line = StrCat("none of `", clause, "` holds:");
    for (const std::string& a : alternatives) {
      line += StrCat(" ", Describe(a, device), ";");
    }
    line.pop_back();
    out.push_back(std::move(line));
  }
  return out;
}

}  // namespace strata::rollout
