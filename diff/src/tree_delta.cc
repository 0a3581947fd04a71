#include "strata/diff/tree_delta.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <set>
#include <thread>
#include <unordered_map>

#include "src/fuzzing.h"
#include "src/streams.h"
#include "src/varint.h"
#include "strata/base/file_util.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::diff {
namespace {

using internal::GetFixed32;
using internal::GetFixed64;
using internal::PutFixed32;
using internal::PutFixed64;
using internal::PutVarint;

// Header (little-endian), 88 bytes:
//   0 magic[8] "STRTREE\x1a"  8 version u32  12 window_log u32 (10..27)
//  16 manifest_len u64 (compressed)  24 data_len u64 (compressed)
//  32 data_raw u64  40 new_tree_bytes u64  48 manifest_sha256[32]
//  80 checksum: first 8 bytes of SHA-256(bytes 0..79)
constexpr std::string_view kTreeMagic{"STRTREE\x1a", 8};
constexpr uint32_t kTreeVersion = 1;
constexpr size_t kTreeHeaderSize = 88;
constexpr size_t kChunk = 64 * 1024;

absl::Status Corrupt(std::string_view what) {
  return absl::DataLossError(strata::StrCat(
      "tree patch is corrupt: ", what,
      "; the patch file is damaged or truncated, fetch it again"));
}

void PutString(std::string& out, std::string_view s) {
  PutVarint(out, s.size());
  out.append(s);
}

std::string EncodeManifest(const std::vector<TreePatchEntry>& entries) {
  std::string m;
  PutVarint(m, entries.size());
  for (const TreePatchEntry& e : entries) {
    m.push_back(static_cast<char>(e.op));
    PutString(m, e.entry.path);
    if (e.op == TreeOp::kDelete) continue;
    if (e.op == TreeOp::kSymlink) {
      PutString(m, e.entry.link_target);
      continue;
    }
    PutVarint(m, e.entry.mode);
    PutVarint(m, e.entry.size);
    m.append(reinterpret_cast<const char*>(e.entry.sha256.data()), 32);
    if (e.op == TreeOp::kKeep || e.op == TreeOp::kDelta) PutString(m, e.source);
    if (e.op == TreeOp::kDelta) PutVarint(m, e.data_len);
  }
  return m;
}

bool GetString(std::string_view& in, std::string* s) {
  uint64_t n;
  if (!internal::GetVarint(in, &n) || n > in.size()) return false;
  s->assign(in.data(), n);
  in.remove_prefix(n);
  return true;
}

absl::Status DecodeManifest(std::string_view in, TreePatchInfo* info) {
  uint64_t count;
  if (!internal::GetVarint(in, &count)) return Corrupt("bad entry count");
  if (count > in.size()) return Corrupt("entry count exceeds the manifest");
  info->entries.reserve(count);
  uint64_t raw = 0, total = 0;
  bool in_deletes = false;
  std::set<std::string> symlinks;
  for (uint64_t i = 0; i < count; ++i) {
    TreePatchEntry e;
    if (in.empty()) return Corrupt("manifest ends early");
    uint8_t op = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    if (op < 1 || op > 5) return Corrupt(strata::StrCat("unknown op ", op));
    e.op = static_cast<TreeOp>(op);
    if (!GetString(in, &e.entry.path)) return Corrupt("bad path");
    absl::Status v = ValidateTreePath(e.entry.path);
    if (!v.ok()) return Corrupt(ToStd(v.message()));
    if (e.op == TreeOp::kDelete) {
      in_deletes = true;
    } else if (in_deletes) {
      return Corrupt("new-tree entry after the delete entries");
    }
    if (!info->entries.empty()) {
      const TreePatchEntry& prev = info->entries.back();
      bool same_group = (prev.op == TreeOp::kDelete) == in_deletes;
      if (same_group && !(prev.entry.path < e.entry.path)) {
        return Corrupt(
            strata::StrCat("entries out of order at \"", e.entry.path, "\""));
      }
      // A file cannot also be a directory of a later path.
      if (same_group && !in_deletes &&
          e.entry.path.size() > prev.entry.path.size() &&
          e.entry.path.compare(0, prev.entry.path.size(), prev.entry.path) ==
              0 &&
          e.entry.path[prev.entry.path.size()] == '/') {
        return Corrupt(strata::StrCat("\"", prev.entry.path,
                                      "\" is both a file and a directory"));
      }
    }
    if (e.op == TreeOp::kSymlink) {
      e.entry.type = EntryType::kSymlink;
      e.entry.mode = 0777;
      if (!GetString(in, &e.entry.link_target)) return Corrupt("bad target");
      v = ValidateLinkTarget(e.entry.path, e.entry.link_target);
      if (!v.ok()) return Corrupt(ToStd(v.message()));
      e.entry.size = e.entry.link_target.size();
      e.entry.sha256 = Sha256::Hash(e.entry.link_target);
      symlinks.insert(e.entry.path);
    } else if (e.op != TreeOp::kDelete) {
      uint64_t mode;
      if (!internal::GetVarint(in, &mode) || mode > 0777) {
        return Corrupt("bad mode");
      }
      e.entry.mode = static_cast<uint32_t>(mode);
      if (!internal::GetVarint(in, &e.entry.size)) return Corrupt("bad size");
      if (in.size() < 32) return Corrupt("manifest ends early");
      std::memcpy(e.entry.sha256.data(), in.data(), 32);
      in.remove_prefix(32);
      if (e.op == TreeOp::kKeep || e.op == TreeOp::kDelta) {
        if (!GetString(in, &e.source)) return Corrupt("bad source path");
        v = ValidateTreePath(e.source);
        if (!v.ok()) return Corrupt(ToStd(v.message()));
      }
      if (e.op == TreeOp::kDelta) {
        if (!internal::GetVarint(in, &e.data_len)) return Corrupt("bad length");
      } else if (e.op == TreeOp::kLiteral) {
        e.data_len = e.entry.size;
      }
      if (e.data_len > UINT64_MAX - raw || e.entry.size > UINT64_MAX - total) {
        return Corrupt("sizes overflow");
      }
      raw += e.data_len;
      total += e.entry.size;
    }
    info->entries.push_back(std::move(e));
  }
  if (!in.empty()) return Corrupt("trailing bytes after the manifest");
  if (raw != info->data_raw_bytes) {
    return Corrupt("entry data lengths do not add up to the data stream");
  }
  if (total != info->new_tree_bytes) {
    return Corrupt("file sizes do not add up to the declared tree size");
  }
  // No path may lead through a symlink of the new tree.
  for (const TreePatchEntry& e : info->entries) {
    if (e.op == TreeOp::kDelete) break;
    for (size_t p = e.entry.path.find('/'); p != std::string::npos;
         p = e.entry.path.find('/', p + 1)) {
      if (symlinks.count(e.entry.path.substr(0, p))) {
        return Corrupt(
            strata::StrCat("\"", e.entry.path, "\" lies under a symlink"));
      }
    }
  }
  return absl::OkStatus();
}

std::string Extension(const std::string& path) {
  std::string base = Basename(path);
  size_t dot = base.rfind('.');
  return dot == std::string::npos ? std::string() : base.substr(dot);
}

// Picks the old file to diff a new file against: same path, else same
// name, else same extension with the closest size.
const TreeEntry* PickBase(const TreeEntry& nw, const TreeManifest& old,
                          const std::map<std::string, size_t>& by_path,
                          const std::multimap<std::string, size_t>& by_name,
                          const std::multimap<std::string, size_t>& by_ext) {
  auto it = by_path.find(nw.path);
  if (it != by_path.end() && old[it->second].type == EntryType::kFile) {
    return &old[it->second];
  }
  auto closest = [&](auto range) -> const TreeEntry* {
    const TreeEntry* best = nullptr;
    uint64_t best_gap = UINT64_MAX;
    for (auto i = range.first; i != range.second; ++i) {
      const TreeEntry& o = old[i->second];
      if (o.type != EntryType::kFile) continue;
      uint64_t gap = o.size > nw.size ? o.size - nw.size : nw.size - o.size;
      if (gap < best_gap) {
        best_gap = gap;
        best = &o;
      }
    }
    // Too different in size to be a version of the same file.
    if (best &&
        (best->size > 4 * nw.size + 1024 || nw.size > 4 * best->size + 1024)) {
      return nullptr;
    }
    return best;
  };
  if (auto* b = closest(by_name.equal_range(Basename(nw.path)))) return b;
  std::string ext = Extension(nw.path);
  if (ext.empty()) return nullptr;
  return closest(by_ext.equal_range(ext));
}

absl::Status MustBeOk(absl::Status s, std::string_view context) {
  return Annotate(s, context);
}

// Verifies bytes written to one staged file.
class VerifyingFileSink : public ByteSink {
 public:
  explicit VerifyingFileSink(WritableFile* f) : sink_(f) {}
  absl::Status Append(std::string_view d) override {
    sha_.Update(d);
    size_ += d.size();
    return sink_.Append(d);
  }
  absl::Status Flush() { return sink_.Flush(); }
  uint64_t size() const { return size_; }
  Sha256Digest Finish() { return sha_.Finish(); }

 private:
  WritableFileSink sink_;
  Sha256 sha_;
  uint64_t size_ = 0;
};

class TreeApplier {
 public:
  TreeApplier(FileSystem& fs, std::string_view old_root,
              std::string_view staging, const TreeApplyOptions& options)
      : fs_(fs), old_root_(old_root), staging_(staging), options_(options) {}

  absl::Status Run(std::string_view patch, const TreePatchInfo& info) {
    size_t off =
        kTreeHeaderSize + (patch.size() - kTreeHeaderSize - info.data_bytes);
    data_ = internal::NewZstdReader(patch.substr(off), "data",
                                    static_cast<int>(info.window_log));
    STRATA_RETURN_IF_ERROR(CreateDirs(fs_, staging_));
    dirs_.insert(staging_);
    uint64_t done = 0;
    for (const TreePatchEntry& e : info.entries) {
      if (e.op == TreeOp::kDelete) continue;
      STRATA_RETURN_IF_ERROR(MustBeOk(ApplyEntry(e), e.entry.path));
      done += e.entry.size;
      if (options_.progress && info.new_tree_bytes > 0) {
        options_.progress("applying",
                          static_cast<double>(done) / info.new_tree_bytes);
      }
    }
    STRATA_RETURN_IF_ERROR(data_->ExpectEnd());
    // Make every entry durable, deepest directories first.
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      STRATA_RETURN_IF_ERROR(fs_.SyncDir(*it));
    }
    // Final check: the staged tree is exactly the new manifest.
    STRATA_ASSIGN_OR_RETURN(TreeManifest got, ScanTree(fs_, staging_));
    TreeManifest want = info.NewManifest();
    if (&fs_ != PosixFileSystem()) {
      // Without lstat, symlinks cannot be seen; compare files only.
      std::erase_if(want, [](const TreeEntry& t) {
        return t.type == EntryType::kSymlink;
      });
    }
    if (got != want) {
      return absl::DataLossError(
          "staged tree does not match the patch's manifest after applying");
    }
    return absl::OkStatus();
  }

  // DeleteRecursively follows symlinks (the Env has no lstat), so the
  // links we made are removed first when cleaning up after a failure.
  void RemoveLinks() {
    for (const std::string& link : links_) ::unlink(link.c_str());
    links_.clear();
  }

 private:
  absl::Status EnsureParent(const std::string& rel) {
    std::string dir = Dirname(rel);
    if (dir == ".") return absl::OkStatus();
    std::string full = JoinPath(staging_, dir);
    if (dirs_.count(full)) return absl::OkStatus();
    STRATA_RETURN_IF_ERROR(CreateDirs(fs_, full));
    for (std::string d = dir; d != "."; d = Dirname(d)) {
      dirs_.insert(JoinPath(staging_, d));
    }
    return absl::OkStatus();
  }

  absl::Status ApplyEntry(const TreePatchEntry& e) {
    STRATA_RETURN_IF_ERROR(EnsureParent(e.entry.path));
    const std::string dest = JoinPath(staging_, e.entry.path);
    if (e.op == TreeOp::kSymlink) {
      if (&fs_ != PosixFileSystem()) {
        return absl::UnimplementedError(
            "symlinks can only be staged on the POSIX file system");
      }
      if (::symlink(e.entry.link_target.c_str(), dest.c_str()) != 0) {
        return absl::InternalError(
            strata::StrCat("cannot create symlink ", dest));
      }
      links_.push_back(dest);
      return absl::OkStatus();
    }
    STRATA_ASSIGN_OR_RETURN(auto file, fs_.NewWritableFile(dest));
    VerifyingFileSink sink(file.get());
    absl::Status s = WriteContent(e, sink);
    if (s.ok()) s = sink.Flush();
    if (s.ok()) s = file->Sync();
    absl::Status c = file->Close();
    if (s.ok()) s = c;
    STRATA_RETURN_IF_ERROR(s);
    if (sink.size() != e.entry.size || sink.Finish() != e.entry.sha256) {
      return absl::DataLossError(
          "staged file differs from the manifest (size or SHA-256)");
    }
    return fs_.SetPermissions(dest, e.entry.mode);
  }

  absl::Status WriteContent(const TreePatchEntry& e, VerifyingFileSink& sink) {
    std::vector<char> buf(kChunk);
    if (e.op == TreeOp::kLiteral) {
      for (uint64_t left = e.data_len; left > 0;) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(left, kChunk));
        STRATA_RETURN_IF_ERROR(data_->ReadExact(buf.data(), n));
        STRATA_RETURN_IF_ERROR(sink.Append(std::string_view(buf.data(), n)));
        left -= n;
      }
      return absl::OkStatus();
    }
    const std::string src = JoinPath(old_root_, e.source);
    auto old = fs_.NewRandomAccessFile(src);
    if (!old.ok()) {
      return Annotate(old.status(),
                      strata::StrCat("opening old file ", e.source,
                                     " (is this the right old tree?)"));
    }
    if (e.op == TreeOp::kKeep) {
      if ((*old)->Size() != e.entry.size) {
        return absl::DataLossError(
            strata::StrCat("old file ", e.source, " has ", (*old)->Size(),
                           " bytes, the patch expects ", e.entry.size,
                           "; use the old tree the patch was made from"));
      }
      for (uint64_t off = 0; off < e.entry.size;) {
        size_t n =
            static_cast<size_t>(std::min<uint64_t>(e.entry.size - off, kChunk));
        STRATA_ASSIGN_OR_RETURN(size_t got, (*old)->Read(off, n, buf.data()));
        if (got != n) return absl::DataLossError("old file shrank while read");
        STRATA_RETURN_IF_ERROR(sink.Append(std::string_view(buf.data(), n)));
        off += n;
      }
      return absl::OkStatus();
    }
    // kDelta: the embedded patch is read in chunks, so a lying length
    // cannot make us allocate more than the stream really holds.
    std::string sub;
    for (uint64_t left = e.data_len; left > 0;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(left, kChunk));
      sub.resize(sub.size() + n);
      STRATA_RETURN_IF_ERROR(data_->ReadExact(sub.data() + sub.size() - n, n));
      left -= n;
    }
    auto sub_info = ReadPatchInfo(sub);
    if (!sub_info.ok()) return Corrupt(ToStd(sub_info.status().message()));
    if (sub_info->format != PatchFormat::kStrata ||
        sub_info->new_sha256 != e.entry.sha256 ||
        sub_info->new_size != e.entry.size) {
      return Corrupt("embedded patch does not produce the manifest's file");
    }
    ApplyOptions ao;
    ao.max_output_size = e.entry.size;
    ao.max_window_log = options_.max_window_log;
    return ApplyPatch(**old, sub, sink, ao);
  }

  FileSystem& fs_;
  std::string old_root_;
  std::string staging_;
  const TreeApplyOptions& options_;
  std::unique_ptr<internal::StreamReader> data_;
  std::set<std::string> dirs_;
  std::vector<std::string> links_;
};

}  // namespace

bool IsTreePatch(std::string_view patch) {
  return patch.substr(0, 8) == kTreeMagic;
}

absl::StatusOr<TreePatchInfo> ReadTreePatch(std::string_view patch) {
  if (patch.size() < kTreeHeaderSize) {
    return Corrupt(strata::StrCat(
        "only ", patch.size(), " bytes, the header needs ", kTreeHeaderSize));
  }
  if (!IsTreePatch(patch)) return Corrupt("wrong magic");
  Sha256Digest d = Sha256::Hash(patch.substr(0, 80));
  if (!internal::kSkipIntegrityChecksForFuzzing &&
      std::memcmp(d.data(), patch.data() + 80, 8) != 0) {
    return Corrupt("header checksum mismatch");
  }
  const char* p = patch.data();
  TreePatchInfo info;
  info.version = GetFixed32(p + 8);
  if (info.version != kTreeVersion) {
    return Corrupt(
        strata::StrCat("format version ", info.version, " is not supported"));
  }
  info.window_log = GetFixed32(p + 12);
  if (info.window_log < 10 || info.window_log > 27) {
    return Corrupt("window size out of range");
  }
  uint64_t manifest_len = GetFixed64(p + 16);
  info.data_bytes = GetFixed64(p + 24);
  info.data_raw_bytes = GetFixed64(p + 32);
  info.new_tree_bytes = GetFixed64(p + 40);
  std::memcpy(info.manifest_sha256.data(), p + 48, 32);
  uint64_t body = patch.size() - kTreeHeaderSize;
  if (manifest_len > body || info.data_bytes != body - manifest_len) {
    return Corrupt("section lengths do not add up to the patch size");
  }
  // The manifest is small; bound its decoded size anyway.
  auto reader =
      internal::NewZstdReader(patch.substr(kTreeHeaderSize, manifest_len),
                              "manifest", static_cast<int>(info.window_log));
  std::string manifest;
  std::vector<char> buf(kChunk);
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(size_t n, reader->ReadSome(buf.data(), buf.size()));
    if (n == 0) break;
    manifest.append(buf.data(), n);
    if (manifest.size() > (256u << 20)) return Corrupt("manifest too large");
  }
  if (!internal::kSkipIntegrityChecksForFuzzing &&
      Sha256::Hash(manifest) != info.manifest_sha256) {
    return Corrupt("manifest SHA-256 mismatch");
  }
  STRATA_RETURN_IF_ERROR(DecodeManifest(manifest, &info));
  return info;
}

absl::StatusOr<std::string> CreateTreePatch(FileSystem& fs,
                                            std::string_view old_root,
                                            std::string_view new_root,
                                            const TreeDiffOptions& options) {
  if (options.data_window_log < 10 || options.data_window_log > 27) {
    return absl::InvalidArgumentError(strata::StrCat(
        "data window log ", options.data_window_log, " is outside 10..27"));
  }
  STRATA_ASSIGN_OR_RETURN(TreeManifest old, ScanTree(fs, old_root));
  STRATA_ASSIGN_OR_RETURN(TreeManifest nw, ScanTree(fs, new_root));
  std::map<std::string, size_t> by_path;
  std::multimap<std::string, size_t> by_name, by_ext;
  std::map<Sha256Digest, std::string> by_hash;
  for (size_t i = 0; i < old.size(); ++i) {
    by_path[old[i].path] = i;
    if (old[i].type != EntryType::kFile) continue;
    by_name.emplace(Basename(old[i].path), i);
    std::string ext = Extension(old[i].path);
    if (!ext.empty()) by_ext.emplace(ext, i);
    by_hash.emplace(old[i].sha256, old[i].path);
  }

  std::vector<TreePatchEntry> entries(nw.size());
  std::vector<std::string> blobs(nw.size());
  std::vector<absl::Status> errors(nw.size());
  std::atomic<size_t> next{0};
  DiffOptions sub = options.delta;
  sub.threads = 1;
  sub.progress = nullptr;
  const std::string old_root_s(old_root), new_root_s(new_root);

  auto work = [&] {
    for (size_t i = next++; i < nw.size(); i = next++) {
      TreePatchEntry& e = entries[i];
      e.entry = nw[i];
      if (nw[i].type == EntryType::kSymlink) {
        e.op = TreeOp::kSymlink;
        continue;
      }
      auto same = by_path.find(nw[i].path);
      if (same != by_path.end() && old[same->second].sha256 == nw[i].sha256 &&
          old[same->second].type == EntryType::kFile) {
        e.op = TreeOp::kKeep;
        e.source = nw[i].path;
        continue;
      }
      if (auto h = by_hash.find(nw[i].sha256); h != by_hash.end()) {
        e.op = TreeOp::kKeep;  // unchanged content, renamed or copied
        e.source = h->second;
        continue;
      }
      auto content = fs.ReadFile(JoinPath(new_root_s, nw[i].path));
      if (!content.ok()) {
        errors[i] = content.status();
        continue;
      }
      e.op = TreeOp::kLiteral;
      e.data_len = content->size();
      const TreeEntry* base =
          nw[i].size >= 64 ? PickBase(nw[i], old, by_path, by_name, by_ext)
                           : nullptr;
      if (base != nullptr) {
        auto old_content = fs.ReadFile(JoinPath(old_root_s, base->path));
        if (!old_content.ok()) {
          errors[i] = old_content.status();
          continue;
        }
        auto patch = CreatePatch(*old_content, *content, sub);
        if (!patch.ok()) {
          errors[i] = patch.status();
          continue;
        }
        // Literal bytes will be compressed in the solid stream; estimate.
        internal::ZstdParams zp;
        zp.level = 3;
        auto lit = internal::ZstdCompress(*content, zp);
        if (!lit.ok() || patch->size() < lit->size()) {
          e.op = TreeOp::kDelta;
          e.source = base->path;
          e.data_len = patch->size();
          blobs[i] = std::move(*patch);
          continue;
        }
      }
      blobs[i] = std::move(*content);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < options.delta.threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  for (size_t i = 0; i < nw.size(); ++i) {
    if (!errors[i].ok()) return Annotate(errors[i], nw[i].path);
  }

  std::set<std::string> new_paths;
  for (const TreeEntry& t : nw) new_paths.insert(t.path);
  for (const TreeEntry& t : old) {
    if (new_paths.count(t.path)) continue;
    TreePatchEntry d;
    d.op = TreeOp::kDelete;
    d.entry.path = t.path;
    entries.push_back(std::move(d));
  }

  std::string data;
  uint64_t total = 0;
  for (size_t i = 0; i < nw.size(); ++i) {
    data += blobs[i];
    if (nw[i].type == EntryType::kFile) total += nw[i].size;
  }
  std::string manifest = EncodeManifest(entries);
  internal::ZstdParams zp;
  zp.level = options.delta.level;
  zp.window_log = options.data_window_log;
  zp.long_distance = options.data_window_log > 24;
  zp.workers = options.delta.threads > 1 ? options.delta.threads : 0;
  STRATA_ASSIGN_OR_RETURN(std::string cdata, internal::ZstdCompress(data, zp));
  zp.workers = 0;
  STRATA_ASSIGN_OR_RETURN(std::string cman,
                          internal::ZstdCompress(manifest, zp));

  std::string out(kTreeMagic);
  PutFixed32(out, kTreeVersion);
  PutFixed32(out, static_cast<uint32_t>(std::max(options.data_window_log,
                                                 options.delta.window_log)));
  PutFixed64(out, cman.size());
  PutFixed64(out, cdata.size());
  PutFixed64(out, data.size());
  PutFixed64(out, total);
  Sha256Digest msha = Sha256::Hash(manifest);
  out.append(reinterpret_cast<const char*>(msha.data()), 32);
  Sha256Digest check = Sha256::Hash(out);
  out.append(reinterpret_cast<const char*>(check.data()), 8);
  out += cman;
  out += cdata;
  return out;
}

absl::Status ApplyTreePatch(FileSystem& fs, std::string_view old_root,
                            std::string_view patch,
                            std::string_view staging_dir,
                            const TreeApplyOptions& options) {
  STRATA_ASSIGN_OR_RETURN(TreePatchInfo info, ReadTreePatch(patch));
  if (info.new_tree_bytes > options.max_total_size) {
    return absl::ResourceExhaustedError(strata::StrCat(
        "tree patch declares ", info.new_tree_bytes,
        " bytes of files, above the limit of ", options.max_total_size));
  }
  if (static_cast<int>(info.window_log) > options.max_window_log) {
    return absl::ResourceExhaustedError(strata::StrCat(
        "tree patch needs a decoding window of 2^", info.window_log,
        " bytes, above the limit of 2^", options.max_window_log));
  }
  if (fs.Exists(staging_dir)) {
    return absl::FailedPreconditionError(
        strata::StrCat("staging directory ", staging_dir,
                       " already exists; remove it or choose a fresh path"));
  }
  TreeApplier applier(fs, old_root, staging_dir, options);
  absl::Status s = applier.Run(patch, info);
  if (!s.ok()) {
    applier.RemoveLinks();
    DeleteRecursively(fs, staging_dir).IgnoreError();
    return Annotate(s,
                    strata::StrCat("applying tree patch into ", staging_dir));
  }
  return absl::OkStatus();
}

}  // namespace strata::diff
