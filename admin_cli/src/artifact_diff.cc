#include "strata/admin_cli/artifact_diff.h"

#include <algorithm>
#include <map>
#include <vector>

#include "strata/admin_cli/render.h"
#include "strata/base/json_schema.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/diff/ustar_reader.h"

namespace strata::admin {
namespace {

struct TreeFile {
  diff::UstarEntry::Type type = diff::UstarEntry::Type::kFile;
  uint64_t size = 0;
  uint32_t mode = 0;
  std::string sha256;
  std::string link_target;
};

absl::StatusOr<std::map<std::string, TreeFile>> ReadTree(const DiffSide& side) {
  absl::StatusOr<std::vector<diff::UstarEntry>> entries =
      diff::UstarReader::Read(side.content);
  if (!entries.ok()) {
    return absl::InvalidArgumentError(
        StrCat(side.name, ": ", ToStd(entries.status().message())));
  }
  std::map<std::string, TreeFile> out;
  for (const diff::UstarEntry& e : *entries) {
    if (e.type == diff::UstarEntry::Type::kDirectory) continue;
    TreeFile f;
    f.type = e.type;
    f.size = e.size;
    f.mode = e.mode;
    f.link_target = e.link_target;
    if (e.type == diff::UstarEntry::Type::kFile) {
      f.sha256 = Sha256::HexHash(side.content.substr(e.data_offset, e.size));
    }
    out[e.path] = std::move(f);
  }
  return out;
}

std::string Describe(const TreeFile& f) {
  if (f.type == diff::UstarEntry::Type::kSymlink) {
    return StrCat("-> ", f.link_target);
  }
  return FormatBytes(f.size);
}

std::string Octal(uint32_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%o", mode);
  return buf;
}

ArtifactDiff TreeDiff(const DiffSide& from, const DiffSide& to,
                      const std::map<std::string, TreeFile>& a,
                      const std::map<std::string, TreeFile>& b) {
  ArtifactDiff out;
  Json added = Json::MakeArray(), removed = Json::MakeArray(),
       changed = Json::MakeArray();
  std::vector<std::string> lines;
  uint64_t unchanged = 0;
  auto file_json = [](const std::string& path, const TreeFile& f) {
    Json j = Json::MakeObject();
    j["path"] = path;
    if (f.type == diff::UstarEntry::Type::kSymlink) {
      j["link_target"] = f.link_target;
    } else {
      j["size"] = f.size;
    }
    return j;
  };
  for (const auto& [path, f] : b) {
    if (!a.count(path)) {
      added.Append(file_json(path, f));
      lines.push_back(StrCat("+ ", path, "  ", Describe(f)));
    }
  }
  for (const auto& [path, f] : a) {
    auto it = b.find(path);
    if (it == b.end()) {
      removed.Append(file_json(path, f));
      lines.push_back(StrCat("- ", path, "  ", Describe(f)));
      continue;
    }
    const TreeFile& g = it->second;
    std::vector<std::string> what;
    if (f.type != g.type) {
      what.push_back("type");
    } else if (f.type == diff::UstarEntry::Type::kSymlink) {
      if (f.link_target != g.link_target) what.push_back("link");
    } else {
      if (f.sha256 != g.sha256) what.push_back("content");
      if (f.mode != g.mode) what.push_back("mode");
    }
    if (what.empty()) {
      ++unchanged;
      continue;
    }
    Json c = Json::MakeObject();
    c["path"] = path;
    c["from_size"] = f.size;
    c["to_size"] = g.size;
    Json kinds = Json::MakeArray();
    for (const std::string& w : what) kinds.Append(w);
    c["changed"] = std::move(kinds);
    std::string line =
        StrCat("~ ", path, "  ", Describe(f), " -> ", Describe(g));
    if (f.type == g.type && f.mode != g.mode) {
      line += StrCat(" (mode ", Octal(f.mode), " -> ", Octal(g.mode), ")");
    }
    changed.Append(std::move(c));
    lines.push_back(std::move(line));
  }
  std::sort(lines.begin(), lines.end(),
            [](const std::string& x, const std::string& y) {
              return x.substr(2) < y.substr(2);  // by path
            });
  out.text = StrCat(from.name, " -> ", to.name, ": ", added.as_array().size(),
                    " added, ", removed.as_array().size(), " removed, ",
                    changed.as_array().size(), " changed, ", unchanged,
                    " unchanged\n");
  for (const std::string& l : lines) out.text += StrCat("  ", l, "\n");
  out.json = Json::MakeObject();
  out.json["kind"] = "tree";
  out.json["added"] = std::move(added);
  out.json["removed"] = std::move(removed);
  out.json["changed"] = std::move(changed);
  out.json["unchanged"] = unchanged;
  return out;
}

std::string Pointer(const std::string& parent, const std::string& key) {
  std::string out = parent + "/";
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string Short(const Json& v) {
  std::string s = v.Dump();
  return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}

struct JsonChanges {
  Json added = Json::MakeArray(), removed = Json::MakeArray(),
       changed = Json::MakeArray();
  std::vector<std::pair<std::string, std::string>> lines;  // path, line
  uint64_t unchanged = 0;

  void Walk(const Json& a, const Json& b, const std::string& path) {
    if (a.is_object() && b.is_object()) {
      for (const auto& [key, value] : b.as_object()) {
        if (a.Find(key) == nullptr) {
          const std::string p = Pointer(path, key);
          Json j = Json::MakeObject();
          j["path"] = p;
          j["value"] = value;
          added.Append(std::move(j));
          lines.emplace_back(p, StrCat("+ ", p, ": ", Short(value)));
        }
      }
      for (const auto& [key, value] : a.as_object()) {
        const std::string p = Pointer(path, key);
        const Json* other = b.Find(key);
        if (other == nullptr) {
          Json j = Json::MakeObject();
          j["path"] = p;
          j["value"] = value;
          removed.Append(std::move(j));
          lines.emplace_back(p, StrCat("- ", p, ": ", Short(value)));
        } else {
          Walk(value, *other, p);
        }
      }
      return;
    }
    if (JsonEquals(a, b)) {
      ++unchanged;
      return;
    }
    const std::string p = path.empty() ? "/" : path;
    Json j = Json::MakeObject();
    j["path"] = p;
    j["from"] = a;
    j["to"] = b;
    changed.Append(std::move(j));
    lines.emplace_back(p, StrCat("~ ", p, ": ", Short(a), " -> ", Short(b)));
  }
};

ArtifactDiff ConfigDiff(const DiffSide& from, const DiffSide& to, const Json& a,
                        const Json& b) {
  JsonChanges c;
  c.Walk(a, b, "");
  std::sort(c.lines.begin(), c.lines.end());
  ArtifactDiff out;
  out.text = StrCat(from.name, " -> ", to.name, ": ", c.added.as_array().size(),
                    " added, ", c.removed.as_array().size(), " removed, ",
                    c.changed.as_array().size(), " changed, ", c.unchanged,
                    " unchanged\n");
  for (const auto& [path, line] : c.lines) out.text += StrCat("  ", line, "\n");
  out.json = Json::MakeObject();
  out.json["kind"] = "json";
  out.json["added"] = std::move(c.added);
  out.json["removed"] = std::move(c.removed);
  out.json["changed"] = std::move(c.changed);
  out.json["unchanged"] = c.unchanged;
  return out;
}

ArtifactDiff BytesDiff(const DiffSide& from, const DiffSide& to) {
  ArtifactDiff out;
  const std::string a_sha = Sha256::HexHash(from.content);
  const std::string b_sha = Sha256::HexHash(to.content);
  const size_t common = std::min(from.content.size(), to.content.size());
  int64_t first = -1;
  for (size_t i = 0; i < common; ++i) {
    if (from.content[i] != to.content[i]) {
      first = static_cast<int64_t>(i);
      break;
    }
  }
  if (first < 0 && from.content.size() != to.content.size()) {
    first = static_cast<int64_t>(common);
  }
  const bool identical = a_sha == b_sha;
  out.json = Json::MakeObject();
  out.json["kind"] = "bytes";
  out.json["from_size"] = from.content.size();
  out.json["to_size"] = to.content.size();
  out.json["from_sha256"] = a_sha;
  out.json["to_sha256"] = b_sha;
  out.json["identical"] = identical;
  out.json["first_difference"] = first;
  if (identical) {
    out.text =
        StrCat(from.name, " -> ", to.name, ": identical content (",
               FormatBytes(from.content.size()), ", sha256 ", a_sha, ")\n");
    return out;
  }
  const int64_t delta = static_cast<int64_t>(to.content.size()) -
                        static_cast<int64_t>(from.content.size());
  out.text =
      StrCat(from.name, " -> ", to.name, ": ", FormatBytes(from.content.size()),
             " -> ", FormatBytes(to.content.size()), " (",
             delta >= 0 ? "+" : "", delta, " bytes); first difference at byte ",
             first, "\n  sha256 ", a_sha, " -> ", b_sha, "\n");
  return out;
}

}  // namespace

absl::StatusOr<ArtifactDiff> DiffContent(const DiffSide& from,
                                         const DiffSide& to) {
  ArtifactDiff out;
  if (diff::LooksLikeUstar(from.content) && diff::LooksLikeUstar(to.content)) {
    STRATA_ASSIGN_OR_RETURN(auto a, ReadTree(from));
    STRATA_ASSIGN_OR_RETURN(auto b, ReadTree(to));
    out = TreeDiff(from, to, a, b);
  } else {
    bool done = false;
    if (from.layer == v1::LAYER_CONFIG && to.layer == v1::LAYER_CONFIG) {
      JsonParseOptions options;
      options.allow_fractions = true;
      absl::StatusOr<Json> a = Json::Parse(from.content, options);
      absl::StatusOr<Json> b = Json::Parse(to.content, options);
      if (a.ok() && b.ok()) {
        out = ConfigDiff(from, to, *a, *b);
        done = true;
      }
    }
    if (!done) out = BytesDiff(from, to);
  }
  out.json["from"] = from.name;
  out.json["to"] = to.name;
  return out;
}

}  // namespace strata::admin
