// Fuzz target: the TUF client's metadata loading (signing/verifier.h) with a
// real pinned root: Verifier::Open on a stored trusted state
// (LoadStateInto), then Refresh() over the files of a repository: the root
// chain, timestamp, snapshot, targets, the per-layer delegations and the
// director; then ResolveAll and FindTarget on what it trusts.
//
// Structure-aware, so inputs get past the signatures: the input is a list
// of files,
//   @@ <file name>[ raw]
//   <body>
// and a body that is a JSON object is the *signed* part of the file: the
// target wraps it in an envelope signed by that role's keys (the test
// repository's: root 2 of 3 with all three signing, timestamp, snapshot,
// targets, director, two keys per layer role; a role it does not know gets
// no signature). " raw" or a body that is not JSON is served as it is. In
// the snapshot's and the timestamp's "meta" entries the string "$auto" for
// "length" or for "hashes"."sha256" becomes the length or hash of the file
// that entry names as the target serves it (so mutated targets still match
// their snapshot). The file "state" is the stored trusted state; in it a
// role member (root, timestamp, snapshot, targets, director, and the
// members of "delegated") that is a JSON object is likewise signed and
// stored as the file's bytes.
//
// Properties: no crash; Open fails only with TRUSTED_STATE_CORRUPT; a
// Refresh that fails carries a reject reason and leaves the trusted
// versions and the state file unchanged; one that succeeds never lowers
// the root version, persists a state that reopens to the same versions,
// and a second Refresh over the same files succeeds and changes nothing;
// every resolved target is found by name with the same length and hash,
// and MarkInstalled records its release counter. The target counts how far
// inputs got, and the reject reasons of failed refreshes, and prints them at
// exit ("verifier reach: ...", see docs/testing.md).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/base/file_util.h"
#include "strata/base/json.h"
#include "strata/base/sha256.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/signing/reject_reason.h"
#include "strata/signing/signed_metadata.h"
#include "strata/signing/verifier.h"
#include "test_repo.h"

namespace {

using strata::Json;
using strata::signing::GetRejectReason;
using strata::signing::InMemoryMetadataSource;
using strata::signing::PrivateKey;
using strata::signing::RejectReason;
using strata::signing::SignedMetadata;
using strata::signing::TrustedVersionsInfo;
using strata::signing::VerifiedTarget;
using strata::signing::Verifier;
using strata::signing::VerifierOptions;
using strata::signing::testing::TestRepo;
using strata::testing::MemFileSystem;
using strata::testing::SimulatedClock;

// The time of every run; the repository's metadata expires a day later.
const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);
constexpr char kStateDir[] = "/trust";
constexpr char kStatePath[] = "/trust/trusted_metadata.json";

void Check(bool ok) {
  if (!ok) std::abort();
}

struct Counters {
  unsigned long long inputs = 0, opened = 0, refreshed = 0, resolved = 0,
                     targets = 0;
  std::map<std::string, unsigned long long> rejected;  // by reason
  ~Counters() {
    std::string reasons;
    for (const auto& [name, n] : rejected)
      reasons += " " + name + "=" + std::to_string(n);
    std::fprintf(stderr,
                 "verifier reach: inputs=%llu opened=%llu refreshed=%llu "
                 "resolved=%llu targets=%llu; rejected:%s\n",
                 inputs, opened, refreshed, resolved, targets, reasons.c_str());
  }
};
Counters counters;

// The keys and the pinned root (version 1) of the test repository.
const TestRepo& Repo() {
  static const TestRepo* repo = new TestRepo(kNow);
  return *repo;
}

// "3.root.json" -> "root", "timestamp.json" -> "timestamp".
std::string RoleOf(std::string_view file) {
  constexpr std::string_view kSuffix = ".json";
  if (file.size() < kSuffix.size() ||
      file.substr(file.size() - kSuffix.size()) != kSuffix) {
    return "";
  }
  file.remove_suffix(kSuffix.size());
  const size_t dot = file.find('.');
  if (dot != std::string_view::npos &&
      file.find_first_not_of("0123456789") == dot) {
    file.remove_prefix(dot + 1);
  }
  return std::string(file);
}

std::string Sign(const std::string& role, const Json& signed_part) {
  // Signing dominates the run time, and a mutation changes one file of an
  // input at a time: the files signed before are looked up (Ed25519
  // signatures are deterministic, so this changes no result).
  static auto* cache = new std::map<std::string, std::string>();
  std::string key = role + '\0' + signed_part.Dump();
  if (auto it = cache->find(key); it != cache->end()) return it->second;
  if (cache->size() >= 20000) cache->clear();
  const TestRepo& repo = Repo();
  SignedMetadata m(signed_part);
  std::vector<const PrivateKey*> keys;
  if (role == "root") {
    for (const PrivateKey& k : repo.root_keys) keys.push_back(&k);
  } else if (auto it = repo.signers.find(role); it != repo.signers.end()) {
    keys = it->second;
  }
  for (const PrivateKey* k : keys) Check(m.Sign(*k).ok());
  return (*cache)[std::move(key)] = m.Serialize();
}

struct Section {
  std::string name;
  bool raw = false;
  std::string body;
};

std::vector<Section> Sections(std::string_view in) {
  std::vector<Section> out;
  constexpr std::string_view kMark = "@@ ";
  if (in.substr(0, kMark.size()) != kMark) return out;
  size_t pos = 0;
  while (pos < in.size()) {
    const size_t line_end = in.find('\n', pos);
    const std::string_view header =
        in.substr(pos + kMark.size(), line_end == std::string_view::npos
                                          ? std::string_view::npos
                                          : line_end - pos - kMark.size());
    size_t next = line_end == std::string_view::npos
                      ? std::string_view::npos
                      : in.find("\n@@ ", line_end);
    Section s;
    const size_t space = header.find(' ');
    s.name = std::string(header.substr(0, space));
    s.raw =
        space != std::string_view::npos && header.substr(space + 1) == "raw";
    if (line_end != std::string_view::npos) {
      const size_t start = line_end + 1;
      s.body =
          std::string(in.substr(start, next == std::string_view::npos ? next
                                       : next >= start ? next - start
                                                       : 0));
    }
    out.push_back(std::move(s));
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return out;
}

// Replaces "$auto" lengths and hashes in a snapshot's or timestamp's meta.
void FillMeta(Json& signed_part, const InMemoryMetadataSource& served) {
  if (!signed_part.is_object() || signed_part.Find("meta") == nullptr) return;
  Json& meta = signed_part["meta"];
  if (!meta.is_object()) return;
  for (auto& [file, entry] : meta.as_object()) {
    if (!entry.is_object()) continue;
    std::string name = file;
    if (const Json* v = entry.Find("version"); v != nullptr && v->is_int()) {
      const std::string versioned = std::to_string(v->as_int()) + "." + file;
      if (served.files().count(versioned) != 0) name = versioned;
    }
    auto it = served.files().find(name);
    if (it == served.files().end()) continue;
    const std::string& bytes = it->second;
    if (const Json* l = entry.Find("length");
        l != nullptr && l->is_string() && l->as_string() == "$auto") {
      entry["length"] = static_cast<int64_t>(bytes.size());
    }
    if (entry.Find("hashes") == nullptr) continue;
    Json& hashes = entry["hashes"];
    if (!hashes.is_object()) continue;
    if (const Json* h = hashes.Find("sha256");
        h != nullptr && h->is_string() && h->as_string() == "$auto") {
      hashes["sha256"] = strata::Sha256::HexHash(bytes);
    }
  }
}

// The stored state with its role objects signed.
std::string StateFile(const Section& s) {
  absl::StatusOr<Json> j = Json::Parse(s.body);
  if (s.raw || !j.ok() || !j->is_object()) return s.body;
  for (const char* role :
       {"root", "timestamp", "snapshot", "targets", "director"}) {
    const Json* v = j->Find(role);
    if (v != nullptr && v->is_object()) (*j)[role] = Sign(role, *v);
  }
  if (j->Find("delegated") != nullptr && (*j)["delegated"].is_object()) {
    for (auto& [role, v] : (*j)["delegated"].as_object()) {
      if (v.is_object()) v = Sign(role, v);
    }
  }
  return j->Dump();
}

std::string ReadState(MemFileSystem& fs) {
  absl::StatusOr<std::string> bytes = fs.ReadFile(kStatePath);
  return bytes.ok() ? *bytes : "<none>";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<Section> sections =
      Sections(std::string_view(reinterpret_cast<const char*>(data), size));
  ++counters.inputs;
  InMemoryMetadataSource source;
  MemFileSystem fs;
  SimulatedClock clock(kNow);
  strata::Env env;
  env.fs = &fs;
  env.clock = &clock;

  // Files: signed roles first, then the snapshot, then the timestamp, so
  // their "$auto" entries describe what is served.
  std::vector<const Section*> order;
  for (const Section& s : sections)
    if (RoleOf(s.name) != "snapshot" && RoleOf(s.name) != "timestamp")
      order.push_back(&s);
  for (const char* last : {"snapshot", "timestamp"})
    for (const Section& s : sections)
      if (RoleOf(s.name) == last) order.push_back(&s);
  for (const Section* s : order) {
    if (s->name == "state") {
      Check(strata::CreateDirs(fs, kStateDir).ok());
      Check(strata::WriteFileAtomically(fs, kStatePath, StateFile(*s)).ok());
      continue;
    }
    absl::StatusOr<Json> j = Json::Parse(s->body);
    if (s->raw || !j.ok() || !j->is_object()) {
      source.Put(s->name, s->body);
      continue;
    }
    const std::string role = RoleOf(s->name);
    if (role == "snapshot" || role == "timestamp") FillMeta(*j, source);
    source.Put(s->name, Sign(role, *j));
  }

  VerifierOptions options;
  options.state_dir = kStateDir;
  options.pinned_root = Repo().pinned_root();
  absl::StatusOr<std::unique_ptr<Verifier>> opened =
      Verifier::Open(env, options);
  if (!opened.ok()) {
    Check(GetRejectReason(opened.status()) ==
          RejectReason::kTrustedStateCorrupt);
    return 0;
  }
  Verifier& v = **opened;
  ++counters.opened;
  const TrustedVersionsInfo before = v.TrustedVersions();
  const std::string state_before = ReadState(fs);
  absl::Status refreshed = v.Refresh(source);
  if (!refreshed.ok()) {
    const std::optional<RejectReason> reason = GetRejectReason(refreshed);
    Check(reason.has_value());
    ++counters
          .rejected[std::string(strata::signing::RejectReasonName(*reason))];
    Check(v.TrustedVersions() == before);
    Check(ReadState(fs) == state_before);
    return 0;
  }
  ++counters.refreshed;
  const TrustedVersionsInfo after = v.TrustedVersions();
  Check(after.root >= before.root);
  {
    absl::StatusOr<std::unique_ptr<Verifier>> reopened =
        Verifier::Open(env, options);
    Check(reopened.ok() && (*reopened)->TrustedVersions() == after);
  }
  const std::string state_after = ReadState(fs);
  Check(v.Refresh(source).ok());
  Check(v.TrustedVersions() == after);
  Check(ReadState(fs) == state_after);

  absl::StatusOr<std::vector<VerifiedTarget>> all =
      v.ResolveAll(Repo().Device());
  if (all.ok()) {
    ++counters.resolved;
    counters.targets += all->size();
    for (const VerifiedTarget& t : *all) {
      absl::StatusOr<VerifiedTarget> found = v.FindTarget(t.name);
      Check(found.ok() && found->length == t.length &&
            found->sha256 == t.sha256);
      if (t.artifact.has_value() && v.MarkInstalled(t).ok()) {
        Check(
            v.InstalledReleaseCounter(t.artifact->layer, t.artifact->module) ==
            t.artifact->release_counter);
      }
    }
  }
  return 0;
}
