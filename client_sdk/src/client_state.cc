#include "client_state.h"

#include <sstream>
#include <vector>

#include "strata/base/names.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"
#include "strata/proto/failure_signature.h"

namespace strata::client {
namespace {

constexpr std::string_view kHeader = "strata-client-state 1";

std::string RefLine(std::string_view tag, const VersionRef& r) {
  std::string line = StrCat(tag, " ", r.version, " ", r.sha256, " ", r.sequence,
                            " ", r.release_id);
  if (r.install_mode != 0) line += StrCat(" mode=", r.install_mode);
  if (r.mandatory) line += " mandatory";
  return line + "\n";
}

std::vector<std::string> Split(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

bool ParseU64(const std::string& s, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

// Lowercase hex of at most 64 KiB of bytes.
bool FromHex(const std::string& hex, std::string* out) {
  if (hex.size() % 2 != 0 || hex.size() > 128 * 1024) return false;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  out->clear();
  out->reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = digit(hex[i]), lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

}  // namespace

std::string ClientState::Serialize() const {
  std::string out = StrCat(kHeader, "\n");
  out += StrCat("launch ", launch_in_progress ? 1 : 0, " ", unhealthy_launches,
                " ", rolled_back_since_healthy ? 1 : 0, "\n");
  if (!report_ticket.empty()) {
    out += StrCat("ticket ", ToHex(report_ticket), "\n");
  }
  for (const std::string& id : applied_remedies) {
    out += StrCat("remedy ", id, "\n");
  }
  for (const auto& [key, id] : disabled) {
    out += StrCat("disabled ", key.first, " ", key.second, " ", id, "\n");
  }
  for (const auto& [what, id] : blocked) {
    out += StrCat("blocked ", what.first.first, " ", what.first.second, " ",
                  what.second, " ", id, "\n");
  }
  for (const std::string& sig : seen_signatures) {
    out += StrCat("signature ", sig, "\n");
  }
  for (const auto& [key, m] : modules) {
    out += StrCat("module ", key.first, " ", key.second, "\n");
    if (m.active) out += RefLine("active", *m.active);
    if (m.staged) out += RefLine("staged", *m.staged);
    if (m.good) out += RefLine("good", *m.good);
    if (m.pending) out += "pending\n";
    for (const std::string& b : m.banned) out += StrCat("banned ", b, "\n");
  }
  return out;
}

absl::StatusOr<ClientState> ClientState::Parse(std::string_view text) {
  ClientState state;
  std::istringstream in{std::string(text)};
  std::string line;
  int line_no = 0;
  ModuleState* current = nullptr;
  auto bad = [&](std::string_view why) {
    return absl::DataLossError(
        StrCat("SDK state file is corrupt at line ", line_no, " (", why,
               "); delete the storage directory's 'state' file to start over"));
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (line_no == 1) {
      if (line != kHeader) return bad("unknown header");
      continue;
    }
    std::vector<std::string> w = Split(line);
    if (w.empty()) continue;
    const std::string& tag = w[0];
    if (tag == "launch") {
      uint64_t a, b, c;
      if (w.size() != 4 || !ParseU64(w[1], &a) || !ParseU64(w[2], &b) ||
          !ParseU64(w[3], &c) || b > 1000000) {
        return bad("launch record");
      }
      state.launch_in_progress = a != 0;
      state.unhealthy_launches = static_cast<int>(b);
      state.rolled_back_since_healthy = c != 0;
    } else if (tag == "ticket") {
      if (w.size() != 2 || !FromHex(w[1], &state.report_ticket)) {
        return bad("ticket record");
      }
    } else if (tag == "module") {
      uint64_t layer;
      if (w.size() != 3 || !ParseU64(w[1], &layer) || layer < 1 || layer > 5 ||
          !ValidateName("module name", w[2]).ok()) {
        return bad("module record");
      }
      current = &state.modules[{static_cast<int>(layer), w[2]}];
    } else if (tag == "active" || tag == "staged" || tag == "good") {
      VersionRef r;
      if (current == nullptr || w.size() < 5 || w.size() > 7 ||
          !ValidateName("version", w[1]).ok() || !IsSha256Hex(w[2]) ||
          !ParseU64(w[3], &r.sequence) || !ParseU64(w[4], &r.release_id)) {
        return bad("version record");
      }
      for (size_t i = 5; i < w.size(); ++i) {
        uint64_t mode = 0;
        if (w[i] == "mandatory") {
          r.mandatory = true;
        } else if (w[i].rfind("mode=", 0) == 0 &&
                   ParseU64(w[i].substr(5), &mode) && mode <= 3) {
          r.install_mode = static_cast<int>(mode);
        } else {
          return bad("version record");
        }
      }
      r.version = w[1];
      r.sha256 = w[2];
      (tag == "active"   ? current->active
       : tag == "staged" ? current->staged
                         : current->good) = r;
    } else if (tag == "pending") {
      if (current == nullptr) return bad("pending outside a module");
      current->pending = true;
    } else if (tag == "banned") {
      if (current == nullptr || w.size() != 2 || !IsSha256Hex(w[1])) {
        return bad("banned record");
      }
      current->banned.insert(w[1]);
    } else if (tag == "remedy") {
      if (w.size() != 2 || !ValidateName("remedy id", w[1]).ok() ||
          state.applied_remedies.size() >= kMaxAppliedRemedies) {
        return bad("remedy record");
      }
      state.applied_remedies.insert(w[1]);
    } else if (tag == "disabled" || tag == "blocked") {
      const size_t n = tag == "disabled" ? 4 : 5;
      uint64_t layer;
      if (w.size() != n || !ParseU64(w[1], &layer) || layer < 1 || layer > 5 ||
          !ValidateName("module name", w[2]).ok() ||
          !ValidateName("version", w[3]).ok() ||
          !ValidateName("remedy id", w[n - 1]).ok()) {
        return bad(StrCat(tag, " record"));
      }
      const ModuleKey key{static_cast<int>(layer), w[2]};
      if (tag == "disabled") {
        state.disabled[key] = w[3];
      } else {
        state.blocked[{key, w[3]}] = w[4];
      }
    } else if (tag == "signature") {
      if (w.size() != 2 || !IsFailureSignatureId(w[1]) ||
          state.seen_signatures.size() >= kMaxSeenSignatures) {
        return bad("signature record");
      }
      state.seen_signatures.push_back(w[1]);
    } else {
      return bad("unknown record");
    }
  }
  if (line_no == 0) return bad("empty");
  return state;
}

std::set<std::string> ClientState::ReferencedBlobs() const {
  std::set<std::string> out;
  for (const auto& [key, m] : modules) {
    for (const auto* r : {&m.active, &m.staged, &m.good}) {
      if (r->has_value()) out.insert((*r)->sha256);
    }
  }
  return out;
}

}  // namespace strata::client
