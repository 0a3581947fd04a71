// Writes the seeds of the verifier fuzz target (verifier_fuzzer.cc) into a
// directory: repositories of the test repository's keys in the target's
// "@@ <file>" format, with "$auto" lengths and hashes in the snapshot and
// timestamp. Usage: make_verifier_seeds <dir>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "strata/base/json.h"
#include "strata/signing/signed_metadata.h"
#include "test_repo.h"

namespace {

using strata::Json;
using strata::signing::Compatibility;
using strata::signing::Layer;
using strata::signing::SignedMetadata;
using strata::signing::testing::TestRepo;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

Json SignedPart(const std::string& bytes) {
  absl::StatusOr<SignedMetadata> m = SignedMetadata::Parse(bytes, "seed");
  if (!m.ok()) std::abort();
  return m->signed_part();
}

// Lengths and hashes of listed files become "$auto".
Json Auto(Json signed_part) {
  for (auto& [file, entry] : signed_part["meta"].as_object()) {
    if (entry.Find("length") != nullptr) entry["length"] = "$auto";
    if (entry.Find("hashes") != nullptr) entry["hashes"]["sha256"] = "$auto";
  }
  return signed_part;
}

// Every published file but the pinned root, in the target's format.
std::string Files(const TestRepo& repo) {
  std::string out;
  for (const auto& [name, bytes] : repo.source.files()) {
    if (name == "1.root.json") continue;
    Json part = SignedPart(bytes);
    if (name.find("snapshot") != std::string::npos ||
        name.find("timestamp") != std::string::npos) {
      part = Auto(std::move(part));
    }
    out += "@@ " + name + "\n" + part.Dump() + "\n";
  }
  return out;
}

TestRepo Populated() {
  TestRepo repo(kNow);
  repo.Assign(repo.AddArtifact(Layer::kHotpatch, "core", 7, "hotpatch v7"));
  repo.Assign(repo.AddArtifact(Layer::kH5, "mall-home", 3, "h5 bundle v3"));
  Compatibility compat;
  compat.runtime_version = {"3.0", "3.9"};
  repo.Assign(repo.AddArtifact(Layer::kHcf, "cashier", 2, "hcf", compat));
  repo.AddArtifact(Layer::kConfig, "flags", 1, "{}");
  return repo;
}

void Write(const std::string& dir, const std::string& name,
           const std::string& bytes) {
  std::ofstream f(dir + "/" + name, std::ios::binary);
  f << bytes;
  if (!f) {
    std::cerr << "cannot write " << dir << "/" << name << "\n";
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_verifier_seeds <dir>\n";
    return 2;
  }
  const std::string dir = argv[1];

  TestRepo repo = Populated();
  repo.Publish();
  const std::string v1 = Files(repo);
  Write(dir, "repo_v1", v1);

  // A root rotation to version 2 (same keys), then everything bumped.
  repo.root.common.version = 2;
  repo.PublishRoot();
  repo.BumpVersions();
  repo.Publish();
  Write(dir, "rotated_root_v2", Files(repo));

  // A stored state (the v1 files, signed by the target) and a newer
  // repository to refresh to.
  Json state = Json::MakeObject();
  state["format"] = 1;
  TestRepo first = Populated();
  first.Publish();
  state["root"] = first.pinned_root();
  for (const char* role : {"timestamp", "snapshot", "targets", "director"})
    state[role] = SignedPart(first.published(role));
  Json delegated = Json::MakeObject();
  for (const char* role : {"config", "h5", "hcf", "hotpatch", "native"})
    delegated[role] = SignedPart(first.published(role));
  state["delegated"] = std::move(delegated);
  Json installed = Json::MakeObject();
  installed["h5/mall-home"] = 3;
  state["installed"] = std::move(installed);
  first.BumpVersions();
  first.Publish();
  Write(dir, "state_then_v2",
        "@@ state\n" + state.Dump() + "\n" + Files(first));

  // Only a director and a timestamp (most roles missing).
  TestRepo sparse(kNow);
  sparse.Publish();
  Write(dir, "empty_repo", Files(sparse));
  return 0;
}
