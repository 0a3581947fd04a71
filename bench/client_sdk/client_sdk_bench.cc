// The SDK's apply and verify paths, timed in-process on the real file
// system, for bench/client_sdk/run.sh (which times bspatch and sha256sum on
// the same files in the same run). Content is served from memory through
// the Transport seam, so the figures are the SDK's own work: delta apply,
// SHA-256 verification, fsyncs and the atomic state switch.
//
//   client_sdk_bench gen <dir> <megabytes>       writes <dir>/old, <dir>/new
//   client_sdk_bench mkpatch <old> <new> <out>   a Strata-format patch
//   client_sdk_bench apply <old> <new> <patch> <runs>
//       best seconds of a Check that applies <patch> to installed <old>
//   client_sdk_bench verify <file> <runs>
//       best seconds of download+verify+install, and of VerifyInstalled()
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>

#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/client/client.h"
#include "strata/diff/delta.h"
#include "transport.h"

namespace strata::client {
namespace {

class MemoryTransport : public Transport {
 public:
  v1::CheckResponse response;
  std::map<std::string, std::string> blobs;

  absl::StatusOr<v1::CheckResponse> Check(const v1::CheckRequest&) override {
    return response;
  }
  absl::Status Download(
      const std::string& sha256, uint64_t offset,
      const std::function<absl::Status(const v1::DownloadChunk&)>& sink)
      override {
    const std::string& b = blobs.at(sha256);
    constexpr size_t kChunk = 64 * 1024;  // the server's chunk size
    v1::DownloadChunk chunk;
    for (uint64_t off = offset; off < b.size(); off += kChunk) {
      chunk.set_offset(off);
      chunk.set_data(b.substr(off, kChunk));
      absl::Status s = sink(chunk);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }
  absl::StatusOr<v1::ReportResponse> Report(
      const v1::ReportRequest& r) override {
    v1::ReportResponse out;
    out.set_accepted(r.events_size());
    return out;
  }
};

v1::UpdateEntry Entry(const std::string& content, const std::string& version,
                      uint64_t seq) {
  v1::UpdateEntry e;
  e.mutable_module()->set_layer(v1::LAYER_H5);
  e.mutable_module()->set_name("bench");
  e.set_release_sequence(seq);
  auto* st = e.mutable_statement();
  st->set_app_id("bench");
  *st->mutable_module() = e.module();
  st->set_version(version);
  st->set_content_sha256(Sha256::HexHash(content));
  st->set_size(content.size());
  return e;
}

std::string Read(const std::string& path) {
  auto r = PosixFileSystem()->ReadFile(path);
  if (!r.ok()) {
    std::cerr << "cannot read " << path << "\n";
    std::exit(1);
  }
  return *r;
}

void Check(const absl::Status& s, const char* what) {
  if (!s.ok()) {
    std::cerr << what << ": " << s << "\n";
    std::exit(1);
  }
}

std::unique_ptr<Client> NewClient(const std::string& dir,
                                  MemoryTransport** transport) {
  ClientOptions o;
  o.app_id = "bench";
  o.device.device_id = "bench";
  o.storage_dir = dir;
  // Measures check, download and apply over a memory transport that serves
  // no TUF metadata.
  o.insecure_skip_signature_verification_for_tests = true;
  auto t = std::make_unique<MemoryTransport>();
  *transport = t.get();
  auto c = Client::CreateWithTransport(o, std::move(t));
  Check(c.status(), "create");
  return *std::move(c);
}

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

std::string TempStorage() {
  char tmpl[] = "/tmp/strata_sdk_bench_XXXXXX";
  return ::mkdtemp(tmpl);
}

int Gen(const std::string& dir, int mb) {
  // A binary-like file: runs of text-ish and random bytes; the new version
  // changes ~1% of the bytes in small edits and inserts a few blocks.
  std::string old(static_cast<size_t>(mb) << 20, '\0');
  uint64_t x = 42;
  auto next = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (size_t i = 0; i < old.size(); ++i) {
    old[i] = (i / 4096) % 3 == 0 ? static_cast<char>('a' + (i * 7) % 26)
                                 : static_cast<char>(next());
  }
  std::string neu;
  neu.reserve(old.size() + (1 << 20));
  for (size_t i = 0; i < old.size(); i += 8192) {
    std::string block = old.substr(i, 8192);
    for (int k = 0; k < 80; ++k) block[next() % block.size()] ^= 0x5a;
    if (next() % 64 == 0) block += std::string(512, static_cast<char>(next()));
    neu += block;
  }
  Check(WriteFileAtomically(*PosixFileSystem(), JoinPath(dir, "old"), old),
        "write old");
  Check(WriteFileAtomically(*PosixFileSystem(), JoinPath(dir, "new"), neu),
        "write new");
  return 0;
}

int MkPatch(const std::string& old_path, const std::string& new_path,
            const std::string& out) {
  auto patch = diff::CreatePatch(Read(old_path), Read(new_path));
  Check(patch.status(), "diff");
  Check(WriteFileAtomically(*PosixFileSystem(), out, *patch), "write patch");
  return 0;
}

int Apply(const std::string& old_path, const std::string& new_path,
          const std::string& patch_path, int runs) {
  const std::string old = Read(old_path), neu = Read(new_path),
                    patch = Read(patch_path);
  double best = 1e9;
  for (int r = 0; r < runs; ++r) {
    const std::string dir = TempStorage();
    MemoryTransport* t;
    auto client = NewClient(dir, &t);
    t->blobs[Sha256::HexHash(old)] = old;
    t->blobs[Sha256::HexHash(patch)] = patch;
    *t->response.mutable_plan()->add_updates() = Entry(old, "1", 1);
    auto first = client->Check();
    Check(first.status(), "install old");
    Check(client->OpenModule(Layer::kH5, "bench").status(), "activate old");
    v1::UpdateEntry e = Entry(neu, "2", 2);
    v1::DeltaRef* d = e.add_deltas();
    d->set_from_sha256(Sha256::HexHash(old));
    d->mutable_patch()->set_sha256(Sha256::HexHash(patch));
    d->mutable_patch()->set_size(patch.size());
    t->response.mutable_plan()->clear_updates();
    *t->response.mutable_plan()->add_updates() = e;
    const auto start = std::chrono::steady_clock::now();
    auto result = client->Check();
    const double s = Seconds(start);
    Check(result.status(), "apply");
    if (!result->failures.empty() || result->installed.size() != 1) {
      std::cerr << "apply failed: " << result->failures[0] << "\n";
      return 1;
    }
    best = std::min(best, s);
    client.reset();
    (void)DeleteRecursively(*PosixFileSystem(), dir);
  }
  std::printf("%.3f\n", best);
  return 0;
}

int Verify(const std::string& path, int runs) {
  const std::string content = Read(path);
  double best_install = 1e9, best_verify = 1e9;
  for (int r = 0; r < runs; ++r) {
    const std::string dir = TempStorage();
    MemoryTransport* t;
    auto client = NewClient(dir, &t);
    t->blobs[Sha256::HexHash(content)] = content;
    *t->response.mutable_plan()->add_updates() = Entry(content, "1", 1);
    auto start = std::chrono::steady_clock::now();
    auto result = client->Check();
    best_install = std::min(best_install, Seconds(start));
    Check(result.status(), "install");
    start = std::chrono::steady_clock::now();
    Check(client->VerifyInstalled(), "verify");
    best_verify = std::min(best_verify, Seconds(start));
    client.reset();
    (void)DeleteRecursively(*PosixFileSystem(), dir);
  }
  std::printf("%.3f %.3f\n", best_install, best_verify);
  return 0;
}

}  // namespace
}  // namespace strata::client

int main(int argc, char** argv) {
  using namespace strata::client;
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "gen" && argc == 4) return Gen(argv[2], std::atoi(argv[3]));
  if (cmd == "mkpatch" && argc == 5) return MkPatch(argv[2], argv[3], argv[4]);
  if (cmd == "apply" && argc == 6) {
    return Apply(argv[2], argv[3], argv[4], std::atoi(argv[5]));
  }
  if (cmd == "verify" && argc == 4) return Verify(argv[2], std::atoi(argv[3]));
  std::cerr << "usage: see the comment at the top of client_sdk_bench.cc\n";
  return 2;
}
