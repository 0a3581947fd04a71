#include "strata/diff/tree_delta.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "src/apply.h"
#include "src/fuzzing.h"
#include "src/out_of_memory.h"
#include "src/patch_header.h"
#include "src/streams.h"
#include "src/threads.h"
#include "src/varint.h"
#include "strata/base/file_util.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/diff/ustar_writer.h"

namespace strata::diff {
namespace {

using internal::GetFixed32;
using internal::PutFixed32;
using internal::PutVarint;

// Header (docs/formats/tree-patch.md): magic[8] "STRTREE\x1a", version u32
// = 2, then varint window_log, manifest_len, body_len, new_tree_bytes,
// content_bytes, manifest_codec (0 raw, 1 zstd), old_tree[8], new_tree[16]
// (the first bytes of the tree digests), manifest_check[4] (of the decoded
// manifest's SHA-256), checksum[4] (of all header bytes before it).
constexpr std::string_view kTreeMagic{"STRTREE\x1a", 8};
constexpr uint32_t kTreeVersion = 2;
constexpr size_t kOldTreeCheck = 8, kNewTreeCheck = 16;
constexpr size_t kMaxTreeHeader =
    8 + 4 + 6 * 10 + kOldTreeCheck + kNewTreeCheck + 4 + 4;
constexpr size_t kTreeChunk = 64 * 1024;
// TreePatchForm::kAuto tries the archive form only for archives this
// small together, which are also made by zstd's own parser at its highest
// level (see ArchiveForm). Above it the per-file form won on every bench
// pair and the archive form cost 0.2-0.3 s more (docs/benchmarks.md).
constexpr uint64_t kArchiveAutoMost = uint64_t{1} << 20;
constexpr int kArchiveMostEffortLevel = 22;

// The size of a tree's canonical archive (docs/formats/tree-patch.md).
uint64_t CanonicalArchiveSize(const TreeManifest& m) {
  uint64_t n = 2 * kUstarBlock;
  for (const TreeEntry& e : m) {
    n += kUstarBlock;
    if (e.type == EntryType::kFile) n += UstarPadded(e.size);
  }
  return n;
}
constexpr uint64_t kMaxManifest = 256u << 20;

absl::Status CorruptTree(std::string_view what) {
  return absl::DataLossError(strata::StrCat(
      "tree patch is corrupt: ", what,
      "; the patch file is damaged or truncated, fetch it again"));
}

absl::Status WrongTreeBase(std::string_view what) {
  return absl::DataLossError(
      strata::StrCat("tree patch does not apply to this old tree: ", what,
                     "; use the old tree the patch was made from"));
}

void PutString(std::string& out, std::string_view s) {
  PutVarint(out, s.size());
  out.append(s);
}

bool GetString(std::string_view& in, std::string* s) {
  uint64_t n;
  if (!internal::GetVarint(in, &n) || n > in.size()) return false;
  s->assign(in.data(), n);
  in.remove_prefix(n);
  return true;
}

// Paths of explicit records share a prefix with the previous explicit one.
void PutPath(std::string& out, std::string_view prev, std::string_view path) {
  size_t shared = 0;
  while (shared < prev.size() && shared < path.size() &&
         prev[shared] == path[shared]) {
    ++shared;
  }
  PutVarint(out, shared);
  PutString(out, path.substr(shared));
}

std::string EncodeManifest(const TreePatchInfo& info) {
  std::string m;
  PutVarint(m, info.old_entries);
  PutVarint(m, info.new_entries);
  PutVarint(m, info.entries.size());
  uint64_t cursor = 0;
  std::string prev;
  for (const TreePatchEntry& e : info.entries) {
    m.push_back(static_cast<char>(e.op));
    if (e.op == TreeOp::kKeep) {
      PutVarint(m, e.old_index - cursor);
      PutVarint(m, e.count);
      cursor = e.old_index + e.count;
      continue;
    }
    if (e.op == TreeOp::kChange) {
      PutVarint(m, e.old_index - cursor);
      PutVarint(m, e.entry.size);
      cursor = e.old_index + 1;
      continue;
    }
    PutPath(m, prev, e.entry.path);
    prev = e.entry.path;
    switch (e.op) {
      case TreeOp::kContent:
        PutVarint(m, e.entry.mode);
        PutVarint(m, e.entry.size);
        break;
      case TreeOp::kCopy:
        PutVarint(m, e.entry.mode);
        PutVarint(m, e.old_index);
        break;
      case TreeOp::kSymlink:
        PutString(m, e.entry.link_target);
        break;
      case TreeOp::kKeep:
      case TreeOp::kChange:
        break;
    }
  }
  return m;
}

absl::Status DecodeManifest(std::string_view in, TreePatchInfo* info,
                            uint64_t max_entries) {
  uint64_t records;
  if (!internal::GetVarint(in, &info->old_entries) ||
      !internal::GetVarint(in, &info->new_entries) ||
      !internal::GetVarint(in, &records)) {
    return CorruptTree("bad manifest counts");
  }
  if (info->new_entries > max_entries) {
    return absl::ResourceExhaustedError(
        strata::StrCat("tree patch builds ", info->new_entries,
                       " entries, above the limit of ", max_entries));
  }
  if (records > in.size())
    return CorruptTree("record count exceeds the manifest");
  info->entries.reserve(records);
  uint64_t cursor = 0, produced = 0, content = 0;
  std::string prev;
  for (uint64_t i = 0; i < records; ++i) {
    if (in.empty()) return CorruptTree("manifest ends early");
    uint8_t op = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    if (op > 4) return CorruptTree(strata::StrCat("unknown record type ", op));
    TreePatchEntry e;
    e.op = static_cast<TreeOp>(op);
    if (e.op == TreeOp::kKeep) {
      uint64_t skip;
      if (!internal::GetVarint(in, &skip) ||
          !internal::GetVarint(in, &e.count)) {
        return CorruptTree("bad keep record");
      }
      if (e.count == 0 || skip > info->old_entries - cursor ||
          e.count > info->old_entries - cursor - skip) {
        return CorruptTree("keep record outside the old tree");
      }
      e.old_index = cursor + skip;
      cursor = e.old_index + e.count;
      if (e.count > info->new_entries - produced) {
        return CorruptTree("more entries than the new tree has");
      }
      produced += e.count;
      info->entries.push_back(std::move(e));
      continue;
    }
    if (e.op == TreeOp::kChange) {
      uint64_t skip;
      if (!internal::GetVarint(in, &skip) ||
          !internal::GetVarint(in, &e.entry.size)) {
        return CorruptTree("bad change record");
      }
      if (skip >= info->old_entries - cursor) {
        return CorruptTree("change record outside the old tree");
      }
      e.old_index = cursor + skip;
      cursor = e.old_index + 1;
      if (e.entry.size > UINT64_MAX - content)
        return CorruptTree("sizes overflow");
      content += e.entry.size;
      if (produced == info->new_entries) {
        return CorruptTree("more entries than the new tree has");
      }
      ++produced;
      info->entries.push_back(std::move(e));
      continue;
    }
    uint64_t shared;
    std::string suffix;
    if (!internal::GetVarint(in, &shared) || shared > prev.size() ||
        !GetString(in, &suffix)) {
      return CorruptTree("bad path");
    }
    e.entry.path = strata::StrCat(prev.substr(0, shared), suffix);
    absl::Status v = ValidateTreePath(e.entry.path);
    if (!v.ok()) return CorruptTree(ToStd(v.message()));
    prev = e.entry.path;
    if (e.op == TreeOp::kSymlink) {
      e.entry.type = EntryType::kSymlink;
      e.entry.mode = 0777;
      if (!GetString(in, &e.entry.link_target))
        return CorruptTree("bad target");
      v = ValidateLinkTarget(e.entry.path, e.entry.link_target);
      if (!v.ok()) return CorruptTree(ToStd(v.message()));
      e.entry.size = e.entry.link_target.size();
      e.entry.sha256 = Sha256::Hash(e.entry.link_target);
    } else {
      uint64_t mode;
      if (!internal::GetVarint(in, &mode) || mode > 0777) {
        return CorruptTree("bad mode");
      }
      e.entry.mode = static_cast<uint32_t>(mode);
      if (e.op == TreeOp::kContent) {
        if (!internal::GetVarint(in, &e.entry.size))
          return CorruptTree("bad size");
        if (e.entry.size > UINT64_MAX - content) {
          return CorruptTree("sizes overflow");
        }
        content += e.entry.size;
      } else {
        if (!internal::GetVarint(in, &e.old_index) ||
            e.old_index >= info->old_entries) {
          return CorruptTree("copy record outside the old tree");
        }
      }
    }
    if (produced == info->new_entries) {
      return CorruptTree("more entries than the new tree has");
    }
    ++produced;
    info->entries.push_back(std::move(e));
  }
  if (!in.empty()) return CorruptTree("trailing bytes after the manifest");
  if (produced != info->new_entries) {
    return CorruptTree("records do not add up to the new tree's entries");
  }
  if (content != info->content_bytes) {
    return CorruptTree("file sizes do not add up to the declared content size");
  }
  if ((content == 0) != (info->body_bytes == 0)) {
    return CorruptTree("the body does not match the manifest's content files");
  }
  return absl::OkStatus();
}

// The new tree from the old manifest and the records, each entry with the
// record it came from; every path rule checked.
absl::Status Resolve(const TreePatchInfo& info, const TreeManifest& old,
                     TreeManifest* out, std::vector<TreeOp>* ops,
                     std::vector<uint64_t>* sources) {
  if (old.size() != info.old_entries) {
    return WrongTreeBase(strata::StrCat("it has ", old.size(),
                                        " entries, the patch expects ",
                                        info.old_entries));
  }
  out->clear();
  out->reserve(info.new_entries);
  auto add = [&](TreeEntry e, TreeOp op, uint64_t src) {
    out->push_back(std::move(e));
    if (ops) ops->push_back(op);
    if (sources) sources->push_back(src);
  };
  for (const TreePatchEntry& r : info.entries) {
    switch (r.op) {
      case TreeOp::kKeep:
        for (uint64_t k = 0; k < r.count; ++k) {
          add(old[r.old_index + k], TreeOp::kKeep, r.old_index + k);
        }
        break;
      case TreeOp::kCopy: {
        const TreeEntry& src = old[r.old_index];
        if (src.type != EntryType::kFile) {
          return CorruptTree(
              strata::StrCat("\"", r.entry.path, "\" copies a symlink"));
        }
        TreeEntry e = r.entry;
        e.type = EntryType::kFile;
        e.size = src.size;
        e.sha256 = src.sha256;
        add(std::move(e), TreeOp::kCopy, r.old_index);
        break;
      }
      case TreeOp::kChange: {
        const TreeEntry& src = old[r.old_index];
        if (src.type != EntryType::kFile) {
          return CorruptTree(
              strata::StrCat("\"", src.path, "\" is changed but is a symlink"));
        }
        TreeEntry e = src;
        e.size = r.entry.size;
        e.sha256 = Sha256Digest{};
        add(std::move(e), TreeOp::kContent, r.old_index);
        break;
      }
      case TreeOp::kContent:
      case TreeOp::kSymlink:
        add(r.entry, r.op, 0);
        break;
    }
  }
  uint64_t total = 0;
  std::set<std::string_view> symlinks;
  for (size_t i = 0; i < out->size(); ++i) {
    const TreeEntry& e = (*out)[i];
    if (i > 0) {
      const std::string& prev = (*out)[i - 1].path;
      if (!(prev < e.path)) {
        return CorruptTree(
            strata::StrCat("entries out of order at \"", e.path, "\""));
      }
      // A file cannot also be a directory of a later path.
      if (e.path.size() > prev.size() &&
          e.path.compare(0, prev.size(), prev) == 0 &&
          e.path[prev.size()] == '/') {
        return CorruptTree(
            strata::StrCat("\"", prev, "\" is both a file and a directory"));
      }
    }
    if (e.type == EntryType::kSymlink) {
      absl::Status v = ValidateLinkTarget(e.path, e.link_target);
      if (!v.ok()) return CorruptTree(ToStd(v.message()));
      symlinks.insert(e.path);
    } else {
      if (e.size > UINT64_MAX - total) return CorruptTree("sizes overflow");
      total += e.size;
    }
  }
  if (total != info.new_tree_bytes) {
    return CorruptTree("file sizes do not add up to the declared tree size");
  }
  // No path may lead through a symlink of the new tree.
  for (const TreeEntry& e : *out) {
    for (size_t p = e.path.find('/'); p != std::string::npos;
         p = e.path.find('/', p + 1)) {
      if (symlinks.count(std::string_view(e.path).substr(0, p))) {
        return CorruptTree(
            strata::StrCat("\"", e.path, "\" lies under a symlink"));
      }
    }
  }
  return absl::OkStatus();
}

// A read-only view of [offset, offset + size) of another file.
class SubFile : public RandomAccessFile {
 public:
  SubFile(const RandomAccessFile& base, uint64_t offset, uint64_t size)
      : base_(base), offset_(offset), size_(size) {}
  absl::StatusOr<size_t> Read(uint64_t offset, size_t n,
                              char* scratch) const override {
    if (offset >= size_) return 0;
    n = static_cast<size_t>(std::min<uint64_t>(n, size_ - offset));
    return base_.Read(offset_ + offset, n, scratch);
  }
  uint64_t Size() const override { return size_; }

 private:
  const RandomAccessFile& base_;
  uint64_t offset_, size_;
};

// The old tree's files concatenated in manifest order (the body's base),
// read by random access, one old file open at a time.
class ConcatFile : public RandomAccessFile {
 public:
  ConcatFile(FileSystem& fs, std::string root, const TreeManifest& old)
      : fs_(fs), root_(std::move(root)) {
    for (const TreeEntry& e : old) {
      if (e.type != EntryType::kFile || e.size == 0) continue;
      parts_.push_back({e.path, size_, e.size});
      size_ += e.size;
    }
  }
  absl::StatusOr<size_t> Read(uint64_t offset, size_t n,
                              char* scratch) const override {
    size_t done = 0;
    while (done < n && offset < size_) {
      auto it = std::upper_bound(
          parts_.begin(), parts_.end(), offset,
          [](uint64_t o, const Part& p) { return o < p.start; });
      const size_t k = static_cast<size_t>(it - parts_.begin()) - 1;
      const Part& p = parts_[k];
      if (open_ != k) {
        auto f = fs_.NewRandomAccessFile(JoinPath(root_, p.path));
        if (!f.ok()) {
          return Annotate(f.status(),
                          strata::StrCat("opening old file ", p.path));
        }
        file_ = std::move(*f);
        open_ = k;
      }
      size_t want = static_cast<size_t>(
          std::min<uint64_t>(n - done, p.start + p.size - offset));
      STRATA_ASSIGN_OR_RETURN(
          size_t got, file_->Read(offset - p.start, want, scratch + done));
      if (got != want) {
        return WrongTreeBase(
            strata::StrCat("old file ", p.path, " changed while it was read"));
      }
      done += got;
      offset += got;
    }
    return done;
  }
  uint64_t Size() const override { return size_; }

 private:
  struct Part {
    std::string path;
    uint64_t start, size;
  };
  FileSystem& fs_;
  std::string root_;
  std::vector<Part> parts_;
  uint64_t size_ = 0;
  mutable size_t open_ = SIZE_MAX;
  mutable std::unique_ptr<RandomAccessFile> file_;
};

absl::Status ReadFull(const RandomAccessFile& f, uint64_t offset, size_t n,
                      char* out) {
  STRATA_ASSIGN_OR_RETURN(size_t got, f.Read(offset, n, out));
  if (got != n) return CorruptTree("shorter than its header declares");
  return absl::OkStatus();
}

// The archive form starts as a version 3 file patch does, with its own
// version byte (docs/formats/tree-patch.md, "Archive form").
bool IsArchiveForm(std::string_view head) {
  return head.size() >= 2 && head[0] == internal::kCompactMagic &&
         static_cast<uint8_t>(head[1]) == internal::kTreeArchiveVersion;
}

// An archive-form tree patch read as the version 3 file patch it is,
// between the two canonical archives: its version byte reads as 3.
class AsCompactPatch : public RandomAccessFile {
 public:
  explicit AsCompactPatch(const RandomAccessFile& base) : base_(base) {}
  absl::StatusOr<size_t> Read(uint64_t offset, size_t n,
                              char* scratch) const override {
    STRATA_ASSIGN_OR_RETURN(size_t got, base_.Read(offset, n, scratch));
    if (offset <= 1 && offset + got > 1) {
      scratch[1 - offset] = static_cast<char>(internal::kCompactVersion);
    }
    return got;
  }
  uint64_t Size() const override { return base_.Size(); }

 private:
  const RandomAccessFile& base_;
};

class TreeApplier {
 public:
  TreeApplier(FileSystem& fs, std::string_view old_root,
              std::string_view staging, const TreeApplyOptions& options)
      : fs_(fs), old_root_(old_root), staging_(staging), options_(options) {}

  // Before anything is staged: the old tree must be the patch's base.
  absl::Status Prepare(const RandomAccessFile& patch,
                       const TreePatchInfo& info) {
    STRATA_ASSIGN_OR_RETURN(old_, ScanTree(fs_, old_root_));
    if (info.archive_form) return PrepareArchive(patch, info);
    const Sha256Digest digest = TreeDigest(old_);
    if (std::memcmp(digest.data(), info.old_tree.data(), kOldTreeCheck) != 0) {
      return WrongTreeBase(strata::StrCat(
          "its digest is ", ToHex(digest), ", the patch expects ",
          ToHex(info.old_tree).substr(0, 2 * kOldTreeCheck)));
    }
    return Resolve(info, old_, &want_, &ops_, &sources_);
  }

  // The archive form: the old tree's canonical archive is rebuilt, the
  // patch applied to it in memory (its frame checksum verifies the new
  // archive) and the new archive read as the new tree. Files whose content
  // the old tree has are copied (or linked) from it, the rest written from
  // the archive by Run().
  absl::Status PrepareArchive(const RandomAccessFile& patch,
                              const TreePatchInfo& info) {
    // Both archives are held in memory: bound them before building one.
    // An archive of at most max_entries entries and max_total_size bytes
    // of files is at most this large (a header and under a block of
    // padding per entry, two end blocks).
    auto add = [](uint64_t a, uint64_t b) {
      return a > std::numeric_limits<uint64_t>::max() - b
                 ? std::numeric_limits<uint64_t>::max()
                 : a + b;
    };
    const uint64_t per_entry = 2 * kUstarBlock;
    const uint64_t entries_bytes =
        options_.max_entries > std::numeric_limits<uint64_t>::max() / per_entry
            ? std::numeric_limits<uint64_t>::max()
            : options_.max_entries * per_entry;
    const uint64_t most =
        add(add(options_.max_total_size, entries_bytes), 2 * kUstarBlock);
    if (info.archive_bytes > most) {
      return absl::ResourceExhaustedError(strata::StrCat(
          "tree patch (archive form) makes an archive of ", info.archive_bytes,
          " bytes, more than ", options_.max_entries, " entries and ",
          options_.max_total_size, " bytes of files can fill (", most, ")"));
    }
    if (options_.expected_archive_size &&
        *options_.expected_archive_size != info.archive_bytes) {
      return absl::DataLossError(strata::StrCat(
          "tree patch (archive form) makes an archive of ", info.archive_bytes,
          " bytes, not the ", *options_.expected_archive_size,
          " bytes expected; it is not the patch to this new version"));
    }
    const uint64_t old_bytes = CanonicalArchiveSize(old_);
    const uint64_t need = old_bytes + info.archive_bytes;
    const int max_log = std::min(options_.max_window_log, 27);
    if (info.archive_bytes > (uint64_t{1} << 27) ||
        need > (uint64_t{1} << max_log)) {
      return absl::ResourceExhaustedError(strata::StrCat(
          "tree patch (archive form) needs the old and new archives in "
          "memory (",
          need, " bytes), above the limit of 2^", max_log));
    }
    std::string old_buffer;
    old_buffer.reserve(static_cast<size_t>(old_bytes));
    StringSink old_archive(std::move(old_buffer));
    absl::StatusOr<uint64_t> packed =
        WriteCanonicalUstar(fs_, old_root_, old_, old_archive);
    if (!packed.ok()) {
      if (packed.status().code() != absl::StatusCode::kInvalidArgument) {
        return packed.status();
      }
      return WrongTreeBase(strata::StrCat("it has no canonical archive (",
                                          packed.status().message(), ")"));
    }
    const Sha256Digest digest = Sha256::Hash(old_archive.data());
    if (!internal::kSkipIntegrityChecksForFuzzing &&
        std::memcmp(digest.data(), info.old_tree.data(),
                    internal::kV3OldCheck) != 0) {
      return WrongTreeBase(strata::StrCat(
          "its canonical archive's SHA-256 is ", ToHex(digest),
          ", the patch expects one starting with ",
          ToHex(info.old_tree).substr(0, 2 * internal::kV3OldCheck)));
    }
    MemoryRandomAccessFile base(old_archive.data());
    AsCompactPatch compact(patch);
    ApplyOptions ao;
    ao.max_window_log = options_.max_window_log;
    ao.progress = options_.progress;
    ao.expected_new_sha256 = options_.expected_archive_sha256;
    std::string out_buffer;
    out_buffer.reserve(static_cast<size_t>(info.archive_bytes));
    StringSink out(std::move(out_buffer));
    absl::Status s = internal::ApplyPatchWithBase(base, compact, out, ao,
                                                  /*verify_base_hash=*/false);
    if (!s.ok()) {
      if (s.code() == absl::StatusCode::kDataLoss ||
          s.code() == absl::StatusCode::kResourceExhausted) {
        return s;
      }
      return Annotate(s, "applying the tree patch's archive");
    }
    archive_ = out.Release();
    absl::StatusOr<TreeManifest> want = ManifestOfArchive(archive_, &data_);
    if (!want.ok() &&
        want.status().code() == absl::StatusCode::kResourceExhausted) {
      return want.status();  // more entries than any reader takes
    }
    if (!want.ok()) {
      return CorruptTree(strata::StrCat("its archive is not a valid tree: ",
                                        want.status().message()));
    }
    uint64_t total = 0;
    for (const TreeEntry& e : *want) {
      if (e.type == EntryType::kFile) total += e.size;
    }
    if (want->size() > options_.max_entries ||
        total > options_.max_total_size) {
      return absl::ResourceExhaustedError(strata::StrCat(
          "tree patch makes ", want->size(), " entries and ", total,
          " bytes of files, above the limit of ", options_.max_entries,
          " entries and ", options_.max_total_size, " bytes"));
    }
    want_ = *std::move(want);
    std::map<Sha256Digest, size_t> by_hash;
    for (size_t i = 0; i < old_.size(); ++i) {
      if (old_[i].type == EntryType::kFile) by_hash.emplace(old_[i].sha256, i);
    }
    ops_.assign(want_.size(), TreeOp::kContent);
    sources_.assign(want_.size(), 0);
    for (size_t i = 0; i < want_.size(); ++i) {
      if (want_[i].type == EntryType::kSymlink) {
        ops_[i] = TreeOp::kSymlink;
      } else if (auto h = by_hash.find(want_[i].sha256); h != by_hash.end()) {
        ops_[i] = TreeOp::kCopy;
        sources_[i] = h->second;
      }
    }
    return absl::OkStatus();
  }

  absl::Status Run(const RandomAccessFile& patch, const TreePatchInfo& info) {
    STRATA_RETURN_IF_ERROR(CreateDirs(fs_, staging_));
    dirs_.insert(staging_);
    // Pass 1: the new and changed files, from the body (or the archive).
    if (info.archive_form) {
      ContentSink sink(this);
      for (size_t i = 0; i < want_.size(); ++i) {
        if (ops_[i] == TreeOp::kContent) {
          STRATA_RETURN_IF_ERROR(sink.Append(data_[i]));
        }
      }
      STRATA_RETURN_IF_ERROR(sink.Finish());
      data_.clear();
      archive_.clear();
      archive_.shrink_to_fit();
    } else if (info.body_bytes > 0) {
      ConcatFile base(fs_, old_root_, old_);
      SubFile body(patch, patch.Size() - info.body_bytes, info.body_bytes);
      std::string head(static_cast<size_t>(std::min<uint64_t>(
                           info.body_bytes, internal::kMaxStrataHeaderSize)),
                       '\0');
      STRATA_RETURN_IF_ERROR(ReadFull(body, 0, head.size(), head.data()));
      auto bi = internal::DecodeBareHeader(head, info.body_bytes, base.Size(),
                                           info.content_bytes);
      if (!bi.ok()) return CorruptTree(ToStd(bi.status().message()));
      ContentSink sink(this);
      ApplyOptions ao;
      ao.max_output_size = info.content_bytes;
      ao.max_window_log = options_.max_window_log;
      ao.progress = options_.progress;
      absl::Status s = internal::ApplyWithInfo(base, body, *bi, sink, ao);
      if (s.ok()) s = sink.Finish();
      if (!s.ok()) {
        if (s.code() == absl::StatusCode::kDataLoss ||
            s.code() == absl::StatusCode::kResourceExhausted) {
          return s;
        }
        return Annotate(s, "applying the tree patch body");
      }
    }
    // Pass 2: kept and copied files and symlinks.
    for (size_t i = 0; i < want_.size(); ++i) {
      if (ops_[i] == TreeOp::kContent) continue;
      STRATA_RETURN_IF_ERROR(MustBe(CopyEntry(i), want_[i].path));
    }
    // Make every entry durable, deepest directories first.
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      STRATA_RETURN_IF_ERROR(fs_.SyncDir(*it));
    }
    // Final check: the staged tree is exactly the new tree.
    STRATA_ASSIGN_OR_RETURN(TreeManifest got, ScanTree(fs_, staging_));
    TreeManifest want = want_;
    if (&fs_ != PosixFileSystem()) {
      // Without lstat, symlinks cannot be seen; compare files only.
      std::erase_if(want, [](const TreeEntry& t) {
        return t.type == EntryType::kSymlink;
      });
    }
    // (The archive form's frame checksum covered the whole new archive.)
    if (got != want ||
        (!info.archive_form && !internal::kSkipIntegrityChecksForFuzzing &&
         std::memcmp(TreeDigest(want_).data(), info.new_tree.data(),
                     kNewTreeCheck) != 0)) {
      return absl::DataLossError(
          "staged tree does not match the patch's new tree after applying");
    }
    staged_ = std::move(got);
    return absl::OkStatus();
  }

  // After a successful Run(): the staged tree as its final scan saw it.
  TreeManifest TakeStaged() { return std::move(staged_); }

  // DeleteRecursively follows symlinks (the Env has no lstat), so the
  // links we made are removed first when cleaning up after a failure.
  void RemoveLinks() {
    for (const std::string& link : links_) ::unlink(link.c_str());
    links_.clear();
  }

 private:
  static absl::Status MustBe(absl::Status s, std::string_view path) {
    return Annotate(s, path);
  }

  // Splits the body's output into the kContent files, in order.
  class ContentSink : public ByteSink {
   public:
    explicit ContentSink(TreeApplier* a) : a_(a) {}
    absl::Status Append(std::string_view data) override {
      while (!data.empty()) {
        STRATA_RETURN_IF_ERROR(Advance());
        if (!file_) {
          return CorruptTree(
              "the body makes more bytes than the content files");
        }
        size_t n = static_cast<size_t>(std::min<uint64_t>(left_, data.size()));
        sha_->Update(data.substr(0, n));
        STRATA_RETURN_IF_ERROR(sink_->Append(data.substr(0, n)));
        data.remove_prefix(n);
        left_ -= n;
        if (left_ == 0) STRATA_RETURN_IF_ERROR(Close());
      }
      return absl::OkStatus();
    }
    absl::Status Finish() {
      STRATA_RETURN_IF_ERROR(Advance());
      if (file_) return CorruptTree("the body ends inside a content file");
      return absl::OkStatus();
    }

   private:
    // Opens the next content file if none is open (finishing empty ones).
    absl::Status Advance() {
      while (!file_) {
        while (next_ < a_->want_.size() &&
               a_->ops_[next_] != TreeOp::kContent) {
          ++next_;
        }
        if (next_ == a_->want_.size()) return absl::OkStatus();
        current_ = next_++;
        const TreeEntry& e = a_->want_[current_];
        STRATA_RETURN_IF_ERROR(a_->EnsureParent(e.path));
        auto f = a_->fs_.NewWritableFile(JoinPath(a_->staging_, e.path));
        if (!f.ok()) return Annotate(f.status(), e.path);
        file_ = std::move(*f);
        sink_ = std::make_unique<WritableFileSink>(file_.get());
        sha_ = std::make_unique<Sha256>();
        left_ = e.size;
        if (left_ == 0) STRATA_RETURN_IF_ERROR(Close());
      }
      return absl::OkStatus();
    }
    absl::Status Close() {
      TreeEntry& e = a_->want_[current_];
      absl::Status s = sink_->Flush();
      if (s.ok()) s = file_->Sync();
      absl::Status c = file_->Close();
      if (s.ok()) s = c;
      sink_.reset();
      file_.reset();
      STRATA_RETURN_IF_ERROR(Annotate(s, e.path));
      e.sha256 = sha_->Finish();
      return Annotate(
          a_->fs_.SetPermissions(JoinPath(a_->staging_, e.path), e.mode),
          e.path);
    }

    TreeApplier* a_;
    size_t next_ = 0, current_ = 0;
    std::unique_ptr<WritableFile> file_;
    std::unique_ptr<WritableFileSink> sink_;
    std::unique_ptr<Sha256> sha_;
    uint64_t left_ = 0;
  };

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

  absl::Status CopyEntry(size_t i) {
    const TreeEntry& e = want_[i];
    STRATA_RETURN_IF_ERROR(EnsureParent(e.path));
    const std::string dest = JoinPath(staging_, e.path);
    if (e.type == EntryType::kSymlink) {
      if (&fs_ != PosixFileSystem()) {
        return absl::UnimplementedError(
            "symlinks can only be staged on the POSIX file system");
      }
      if (::symlink(e.link_target.c_str(), dest.c_str()) != 0) {
        return absl::InternalError(
            strata::StrCat("cannot create symlink ", dest));
      }
      links_.push_back(dest);
      return absl::OkStatus();
    }
    const TreeEntry& src = old_[sources_[i]];
    if (options_.link_unchanged && &fs_ == PosixFileSystem() &&
        src.mode == e.mode) {
      // Shared, not copied; the final scan still hashes it. A file system
      // without hard links (or another device) falls back to the copy.
      const std::string from = JoinPath(old_root_, src.path);
      if (::link(from.c_str(), dest.c_str()) == 0) return absl::OkStatus();
    }
    auto old = fs_.NewRandomAccessFile(JoinPath(old_root_, src.path));
    if (!old.ok()) {
      return Annotate(old.status(),
                      strata::StrCat("opening old file ", src.path));
    }
    if ((*old)->Size() != src.size) {
      return WrongTreeBase(strata::StrCat("old file ", src.path,
                                          " changed since it was scanned"));
    }
    STRATA_ASSIGN_OR_RETURN(auto file, fs_.NewWritableFile(dest));
    absl::Status s;
    Sha256 sha;
    {
      WritableFileSink sink(file.get());
      std::vector<char> buf(kTreeChunk);
      for (uint64_t off = 0; s.ok() && off < src.size;) {
        size_t n =
            static_cast<size_t>(std::min<uint64_t>(src.size - off, kTreeChunk));
        auto got = (*old)->Read(off, n, buf.data());
        if (!got.ok()) {
          s = got.status();
        } else if (*got != n) {
          s = WrongTreeBase(strata::StrCat("old file ", src.path, " shrank"));
        } else {
          sha.Update(std::string_view(buf.data(), n));
          s = sink.Append(std::string_view(buf.data(), n));
        }
        off += n;
      }
      if (s.ok()) s = sink.Flush();
    }
    if (s.ok()) s = file->Sync();
    absl::Status c = file->Close();
    if (s.ok()) s = c;
    STRATA_RETURN_IF_ERROR(s);
    if (sha.Finish() != src.sha256) {
      return WrongTreeBase(strata::StrCat("old file ", src.path,
                                          " changed since it was scanned"));
    }
    return fs_.SetPermissions(dest, e.mode);
  }

  FileSystem& fs_;
  std::string old_root_;
  std::string staging_;
  const TreeApplyOptions& options_;
  TreeManifest old_, want_;
  std::vector<TreeOp> ops_;
  std::vector<uint64_t> sources_;
  TreeManifest staged_;
  // The archive form: the new archive and each entry's data in it.
  std::string archive_;
  std::vector<std::string_view> data_;
  std::set<std::string> dirs_;
  std::vector<std::string> links_;
};

}  // namespace

Sha256Digest TreeDigest(const TreeManifest& manifest) {
  Sha256 h;
  std::string buf;
  PutVarint(buf, manifest.size());
  for (const TreeEntry& e : manifest) {
    PutString(buf, e.path);
    buf.push_back(static_cast<char>(e.type));
    PutVarint(buf, e.mode);
    PutVarint(buf, e.size);
    buf.append(reinterpret_cast<const char*>(e.sha256.data()), 32);
    PutString(buf, e.link_target);
    if (buf.size() > kTreeChunk) {
      h.Update(buf);
      buf.clear();
    }
  }
  h.Update(buf);
  return h.Finish();
}

absl::StatusOr<TreeManifest> TreePatchInfo::NewManifest(
    const TreeManifest& old) const {
  if (archive_form) {
    return absl::FailedPreconditionError(
        "an archive-form tree patch names its new tree only once applied");
  }
  TreeManifest out;
  STRATA_RETURN_IF_ERROR(Resolve(*this, old, &out, nullptr, nullptr));
  return out;
}

bool IsTreePatch(std::string_view patch) {
  return patch.substr(0, 8) == kTreeMagic || IsArchiveForm(patch);
}

absl::StatusOr<TreePatchInfo> ReadTreePatch(std::string_view patch) {
  MemoryRandomAccessFile file(patch);
  return ReadTreePatch(file);
}

namespace {
absl::StatusOr<TreePatchInfo> ReadTreePatchWithin(const RandomAccessFile& patch,
                                                  uint64_t max_manifest,
                                                  uint64_t max_entries);
}  // namespace

absl::StatusOr<TreePatchInfo> ReadTreePatch(const RandomAccessFile& patch) {
  return ReadTreePatchWithin(patch, kMaxManifest,
                             std::numeric_limits<uint64_t>::max());
}

namespace {

absl::StatusOr<TreePatchInfo> ReadTreePatchWithin(const RandomAccessFile& patch,
                                                  uint64_t max_manifest,
                                                  uint64_t max_entries) {
  const uint64_t size = patch.Size();
  {
    char head[2] = {};
    if (size >= 2) STRATA_RETURN_IF_ERROR(ReadFull(patch, 0, 2, head));
    if (IsArchiveForm(std::string_view(head, 2))) {
      absl::StatusOr<PatchInfo> pi = ReadPatchInfo(AsCompactPatch(patch));
      if (!pi.ok()) {
        return CorruptTree(
            strata::StrCat("archive form: ", pi.status().message()));
      }
      if (!pi->frame_checksum) {
        return CorruptTree("archive form without the check of its archive");
      }
      TreePatchInfo info;
      info.version = 3;
      info.archive_form = true;
      info.archive_bytes = pi->new_size;
      info.body_bytes = pi->extra_bytes;
      std::memcpy(info.old_tree.data(), pi->old_sha256.data(),
                  internal::kV3OldCheck);
      return info;
    }
  }
  if (size < 12) {
    return CorruptTree(
        strata::StrCat("only ", size, " bytes, shorter than any header"));
  }
  std::string head(
      static_cast<size_t>(std::min<uint64_t>(size, kMaxTreeHeader)), '\0');
  STRATA_RETURN_IF_ERROR(ReadFull(patch, 0, head.size(), head.data()));
  if (std::string_view(head).substr(0, 8) != kTreeMagic) {
    return CorruptTree("wrong magic");
  }
  TreePatchInfo info;
  info.version = GetFixed32(head.data() + 8);
  if (info.version != kTreeVersion) {
    return absl::DataLossError(strata::StrCat(
        "tree patch format version ", info.version,
        " is not supported (this build reads version ", kTreeVersion, "); ",
        info.version < kTreeVersion
            ? "the patch was made by an older strata-diff: make it again "
              "with this one"
            : "the patch was made by a newer strata-diff: update this one"));
  }
  std::string_view in = std::string_view(head).substr(12);
  uint64_t wl, codec;
  if (!internal::GetVarint(in, &wl) ||
      !internal::GetVarint(in, &info.manifest_bytes) ||
      !internal::GetVarint(in, &info.body_bytes) ||
      !internal::GetVarint(in, &info.new_tree_bytes) ||
      !internal::GetVarint(in, &info.content_bytes) ||
      !internal::GetVarint(in, &codec) ||
      in.size() < kOldTreeCheck + kNewTreeCheck + 8) {
    return CorruptTree("truncated header");
  }
  std::memcpy(info.old_tree.data(), in.data(), kOldTreeCheck);
  std::memcpy(info.new_tree.data(), in.data() + kOldTreeCheck, kNewTreeCheck);
  in.remove_prefix(kOldTreeCheck + kNewTreeCheck);
  const std::string_view manifest_check = in.substr(0, 4);
  in.remove_prefix(4);
  const size_t header_len = head.size() - in.size();
  Sha256Digest d = Sha256::Hash(std::string_view(head).substr(0, header_len));
  if (!internal::kSkipIntegrityChecksForFuzzing &&
      std::memcmp(d.data(), in.data(), 4) != 0) {
    return CorruptTree("header checksum mismatch");
  }
  const uint64_t header_size = header_len + 4;
  if (wl < 10 || wl > 27) return CorruptTree("window size out of range");
  info.window_log = static_cast<uint32_t>(wl);
  if (codec > 1) return CorruptTree("unknown manifest encoding");
  uint64_t body = size - header_size;
  if (info.manifest_bytes > body ||
      info.body_bytes != body - info.manifest_bytes) {
    return CorruptTree("section lengths do not add up to the patch size");
  }
  if (info.content_bytes > info.new_tree_bytes) {
    return CorruptTree("content larger than the tree");
  }
  // The manifest is small (no per-file hashes); bound its decoded size.
  auto source =
      internal::ByteSource::File(&patch, header_size, info.manifest_bytes);
  auto reader = codec == 1
                    ? internal::NewZstdReader(std::move(source), "manifest",
                                              static_cast<int>(info.window_log))
                    : internal::NewRawReader(std::move(source), "manifest");
  std::string manifest;
  std::vector<char> buf(kTreeChunk);
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(size_t n, reader->ReadSome(buf.data(), buf.size()));
    if (n == 0) break;
    manifest.append(buf.data(), n);
    if (manifest.size() > kMaxManifest)
      return CorruptTree("manifest too large");
    if (manifest.size() > max_manifest) {
      return absl::ResourceExhaustedError(
          strata::StrCat("tree patch manifest is over ", max_manifest,
                         " bytes decoded, above the limit"));
    }
  }
  STRATA_RETURN_IF_ERROR(reader->ExpectEnd());
  if (!internal::kSkipIntegrityChecksForFuzzing &&
      std::memcmp(Sha256::Hash(manifest).data(), manifest_check.data(), 4) !=
          0) {
    return CorruptTree("manifest SHA-256 mismatch");
  }
  STRATA_RETURN_IF_ERROR(DecodeManifest(manifest, &info, max_entries));
  return info;
}

// The archive form (docs/formats/tree-patch.md); kFailedPrecondition when
// the trees cannot take it: a new file mode other than 0644 or 0755, a path
// or link the canonical archive cannot hold, archives too large for one
// frame together, or a new archive that would not unpack to exactly `nw`.
absl::StatusOr<std::string> ArchiveForm(
    const TreeManifest& old, const std::vector<std::string_view>& old_data,
    const TreeManifest& nw, const std::vector<std::string_view>& new_data,
    const DiffOptions& delta) {
  if (delta.format != PatchFormat::kStrata || delta.prefix_window_log < 16 ||
      delta.prefix_window_log > 27) {
    return absl::InvalidArgumentError(
        "the archive form needs the Strata patch format and a prefix window "
        "log of 16..27");
  }
  auto cannot = [](std::string_view why) {
    return absl::FailedPreconditionError(
        strata::StrCat("these trees cannot take the archive form: ", why));
  };
  for (const TreeEntry& e : nw) {
    if (e.type == EntryType::kFile && e.mode != 0644 && e.mode != 0755) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", e.mode & 07777);
      return cannot(strata::StrCat("new file ", e.path, " has mode ", mode,
                                   " (only 0644 and 0755 are archived)"));
    }
  }
  const uint64_t both = CanonicalArchiveSize(old) + CanonicalArchiveSize(nw);
  if (both > (uint64_t{1} << delta.prefix_window_log)) {
    return cannot(
        strata::StrCat("the archives are ", both, " bytes together, over 2^",
                       delta.prefix_window_log, " (--prefix-window-log)"));
  }
  StringSink old_archive, new_archive;
  if (absl::Status s = WriteCanonicalUstar(old, old_data, old_archive).status();
      !s.ok()) {
    return cannot(strata::StrCat("old tree: ", s.message()));
  }
  if (absl::Status s = WriteCanonicalUstar(nw, new_data, new_archive).status();
      !s.ok()) {
    return cannot(strata::StrCat("new tree: ", s.message()));
  }
  absl::StatusOr<TreeManifest> back =
      ManifestOfArchive(new_archive.data(), nullptr);
  if (!back.ok() || *back != nw) {
    return cannot("the new archive would not unpack to the new tree");
  }
  DiffOptions o = delta;
  o.method = PatchMethod::kZstdPrefix;
  o.output_check = OutputCheck::kInPatch;
  STRATA_ASSIGN_OR_RETURN(
      std::string patch,
      CreatePatch(old_archive.data(), new_archive.data(), o));
  if (patch.size() < 2 || patch[0] != internal::kCompactMagic ||
      static_cast<uint8_t>(patch[1]) != internal::kCompactVersion) {
    return absl::InternalError("the archives' patch is not in compact form");
  }
  if (both <= kArchiveAutoMost && delta.level >= 19) {
    // Small archives also get zstd's own parse at its highest level: it
    // costs little there and can beat the level-19 frame by 1-2% (the
    // semver package, docs/benchmarks.md), which is what decides against
    // zstd --patch-from on a tar.
    internal::ZstdParams zp;
    zp.level = kArchiveMostEffortLevel;
    zp.window_log = delta.prefix_window_log;
    zp.checksum = true;
    zp.magicless = true;
    zp.content_size = false;
    zp.long_distance = true;
    STRATA_ASSIGN_OR_RETURN(std::string frame,
                            internal::ZstdCompressWithPrefix(
                                new_archive.data(), old_archive.data(), zp));
    PatchInfo pi;
    pi.new_size = new_archive.data().size();
    pi.old_sha256 = Sha256::Hash(old_archive.data());
    std::string alt = internal::EncodeCompactHeader(pi) + frame;
    if (alt.size() < patch.size()) patch = std::move(alt);
  }
  patch[1] = static_cast<char>(internal::kTreeArchiveVersion);
  return patch;
}

// Appends the content of entry `index` of a manifest to `out`.
using ContentReader = std::function<absl::Status(size_t index, std::string&)>;

// The patch from tree `old` to tree `nw`, whatever holds their files.
// `old_files`, if given, is every old file concatenated in manifest order
// (ScanTree's `files`): it becomes the body's base and `read_old` is not
// called. `new_files`, if given, is released once the new files' bytes
// have been read.
absl::StatusOr<std::string> CreateFromManifests(
    const TreeManifest& old, const TreeManifest& nw,
    const ContentReader& read_old, const ContentReader& read_new,
    const TreeDiffOptions& options, std::string* old_files = nullptr,
    std::string* new_files = nullptr) {
  std::unordered_map<std::string, size_t> by_path;
  std::map<Sha256Digest, size_t> by_hash;
  // The body's base: every old file, concatenated in manifest order.
  std::string base;
  if (old_files != nullptr) {
    base = std::move(*old_files);
  } else {
    // One allocation: growing it file by file copied it over and over
    // (8% of the vue package's diff).
    uint64_t total = 0;
    for (const TreeEntry& e : old) {
      if (e.type == EntryType::kFile) total += e.size;
    }
    base.reserve(static_cast<size_t>(total));
  }
  std::vector<uint64_t> old_at(old.size(), 0);  // where each file is in base
  uint64_t at = 0;
  for (size_t i = 0; i < old.size(); ++i) {
    by_path[old[i].path] = i;
    if (old[i].type != EntryType::kFile) continue;
    by_hash.emplace(old[i].sha256, i);
    if (old[i].size == 0) continue;
    old_at[i] = at;
    at += old[i].size;
    if (old_files != nullptr) continue;
    const size_t before = base.size();
    STRATA_RETURN_IF_ERROR(read_old(i, base));
    if (base.size() - before != old[i].size) {
      return absl::AbortedError(
          strata::StrCat(old[i].path, " changed while the tree was read"));
    }
  }
  if (at != base.size()) {
    return absl::InternalError("the old files do not add up to the base");
  }

  TreePatchInfo info;
  info.version = kTreeVersion;
  info.old_entries = old.size();
  info.new_entries = nw.size();
  info.old_tree = TreeDigest(old);
  info.new_tree = TreeDigest(nw);
  std::string content;
  {
    // The content files are the new files no old file has: one
    // allocation, on 2 MiB pages when large.
    uint64_t total = 0;
    for (const TreeEntry& e : nw) {
      if (e.type == EntryType::kFile && by_hash.count(e.sha256) == 0) {
        total += e.size;
      }
    }
    content.reserve(static_cast<size_t>(total));
    internal::AdviseLargePages(content.data(), content.capacity());
  }
  // Where each new file's bytes are: {true, offset} in `content`, or
  // {false, old index} (for the archive form).
  std::vector<std::pair<bool, uint64_t>> new_at(nw.size(), {false, 0});
  for (size_t n = 0; n < nw.size(); ++n) {
    const TreeEntry& e = nw[n];
    if (e.type == EntryType::kFile) info.new_tree_bytes += e.size;
    auto same = by_path.find(e.path);
    if (same != by_path.end() && old[same->second] == e) {
      new_at[n] = {false, same->second};
      if (!info.entries.empty() && info.entries.back().op == TreeOp::kKeep &&
          info.entries.back().old_index + info.entries.back().count ==
              same->second) {
        ++info.entries.back().count;
      } else {
        TreePatchEntry k;
        k.op = TreeOp::kKeep;
        k.old_index = same->second;
        k.count = 1;
        info.entries.push_back(std::move(k));
      }
      continue;
    }
    TreePatchEntry r;
    r.entry.path = e.path;
    r.entry.mode = e.mode;
    const bool same_file =
        same != by_path.end() && old[same->second].type == EntryType::kFile &&
        e.type == EntryType::kFile && old[same->second].mode == e.mode;
    if (e.type == EntryType::kSymlink) {
      r.op = TreeOp::kSymlink;
      r.entry.link_target = e.link_target;
    } else if (auto h = by_hash.find(e.sha256); h != by_hash.end()) {
      r.op = TreeOp::kCopy;  // unchanged content, renamed, copied or chmod
      r.old_index = h->second;
      new_at[n] = {false, h->second};
    } else {
      // A changed file at its old path and mode: named by its old index.
      r.op = same_file ? TreeOp::kChange : TreeOp::kContent;
      if (same_file) r.old_index = same->second;
      r.entry.size = e.size;
      const size_t before = content.size();
      new_at[n] = {true, before};
      STRATA_RETURN_IF_ERROR(read_new(n, content));
      if (content.size() - before != e.size) {
        return absl::AbortedError(
            strata::StrCat(e.path, " changed while the tree was read"));
      }
      info.content_bytes += e.size;
    }
    info.entries.push_back(std::move(r));
  }

  if (new_files != nullptr) std::string().swap(*new_files);

  // The archive form, from the same contents.
  auto make_archive = [&]() -> absl::StatusOr<std::string> {
    auto view = [](const std::string& in, uint64_t at, uint64_t size) {
      return std::string_view(in).substr(static_cast<size_t>(at),
                                         static_cast<size_t>(size));
    };
    std::vector<std::string_view> old_data(old.size()), new_data(nw.size());
    for (size_t i = 0; i < old.size(); ++i) {
      old_data[i] = view(base, old_at[i], old[i].size);
    }
    for (size_t n = 0; n < nw.size(); ++n) {
      if (nw[n].type != EntryType::kFile) continue;
      new_data[n] = new_at[n].first
                        ? view(content, new_at[n].second, nw[n].size)
                        : old_data[static_cast<size_t>(new_at[n].second)];
    }
    return ArchiveForm(old, old_data, nw, new_data, options.delta);
  };
  if (options.form == TreePatchForm::kArchive) return make_archive();
  const bool try_archive =
      options.form == TreePatchForm::kAuto &&
      options.delta.format == PatchFormat::kStrata &&
      CanonicalArchiveSize(old) + CanonicalArchiveSize(nw) <= kArchiveAutoMost;

  // The body: one binary patch from all old files to the content files,
  // its own header replaced by a bare one (the sizes and the checks are
  // the tree's).
  std::string body;
  int window_log = options.delta.window_log;
  if (!content.empty()) {
    STRATA_ASSIGN_OR_RETURN(std::string full, internal::CreatePatchWithForm(
                                                  base, content, options.delta,
                                                  /*compact=*/false));
    STRATA_ASSIGN_OR_RETURN(PatchInfo bi, ReadPatchInfo(full));
    window_log = std::max(window_log, static_cast<int>(bi.window_log));
    uint64_t streams = bi.ctrl_bytes + bi.diff_bytes + bi.extra_bytes;
    body = internal::EncodeBareHeader(bi);
    body.append(full, full.size() - streams, streams);
  }
  info.body_bytes = body.size();
  std::string manifest = EncodeManifest(info);
  internal::ZstdParams zp;
  zp.level = 19;
  zp.window_log = options.delta.window_log;
  zp.checksum = false;  // the manifest check covers it
  STRATA_ASSIGN_OR_RETURN(std::string cman,
                          internal::ZstdCompress(manifest, zp));
  const bool compressed = cman.size() < manifest.size();
  if (!compressed) cman = manifest;

  std::string out(kTreeMagic);
  PutFixed32(out, kTreeVersion);
  PutVarint(out, static_cast<uint64_t>(window_log));
  PutVarint(out, cman.size());
  PutVarint(out, body.size());
  PutVarint(out, info.new_tree_bytes);
  PutVarint(out, info.content_bytes);
  PutVarint(out, compressed ? 1 : 0);
  out.append(reinterpret_cast<const char*>(info.old_tree.data()),
             kOldTreeCheck);
  out.append(reinterpret_cast<const char*>(info.new_tree.data()),
             kNewTreeCheck);
  Sha256Digest msha = Sha256::Hash(manifest);
  out.append(reinterpret_cast<const char*>(msha.data()), 4);
  Sha256Digest check = Sha256::Hash(out);
  out.append(reinterpret_cast<const char*>(check.data()), 4);
  out += cman;
  out += body;

  if (try_archive) {
    absl::StatusOr<std::string> archive = make_archive();
    if (archive.ok()) {
      if (archive->size() < out.size()) return *std::move(archive);
    } else if (archive.status().code() !=
               absl::StatusCode::kFailedPrecondition) {
      return archive.status();
    }
  }
  return out;
}

absl::StatusOr<std::string> MakeTreePatch(FileSystem& fs,
                                          std::string_view old_root,
                                          std::string_view new_root,
                                          const TreeDiffOptions& options) {
  // Each file is read once, in manifest order, straight into one buffer
  // per tree: the old tree's is the body's base. On the POSIX file system,
  // which is safe to use from two threads, the two trees are scanned at
  // once. (The lodash package's 2,108 small files took 70-95 ms to scan and
  // read again, most of it in system calls; 40-45 ms now.)
  std::string old_files, new_files;
  absl::StatusOr<TreeManifest> old = absl::UnknownError("not scanned");
  absl::StatusOr<TreeManifest> nw = absl::UnknownError("not scanned");
  internal::RunBeside(
      &fs == PosixFileSystem() && options.delta.threads > 1,
      [&] { old = ScanTree(fs, old_root, &old_files); },
      [&] { nw = ScanTree(fs, new_root, &new_files); });
  if (!old.ok()) return old.status();
  if (!nw.ok()) return nw.status();
  std::vector<uint64_t> new_at(nw->size(), 0);
  uint64_t at = 0;
  for (size_t n = 0; n < nw->size(); ++n) {
    if ((*nw)[n].type != EntryType::kFile) continue;
    new_at[n] = at;
    at += (*nw)[n].size;
  }
  auto read_new = [&](size_t n, std::string& out) {
    out.append(new_files, static_cast<size_t>(new_at[n]),
               static_cast<size_t>((*nw)[n].size));
    return absl::OkStatus();
  };
  auto read_old = [](size_t, std::string&) {
    return absl::InternalError("the old files are read by the scan");
  };
  return CreateFromManifests(*old, *nw, read_old, read_new, options, &old_files,
                             &new_files);
}

}  // namespace

absl::StatusOr<std::string> CreateTreePatch(FileSystem& fs,
                                            std::string_view old_root,
                                            std::string_view new_root,
                                            const TreeDiffOptions& options) {
  return internal::MakeOrOutOfMemory(
      strata::StrCat("a tree patch from ", old_root, " to ", new_root),
      [&] { return MakeTreePatch(fs, old_root, new_root, options); });
}

absl::StatusOr<std::string> CreateTreePatchFromArchives(
    std::string_view old_archive, std::string_view new_archive,
    const TreeDiffOptions& options) {
  return internal::MakeOrOutOfMemory(
      strata::StrCat("a tree patch from archives of ", old_archive.size(),
                     " and ", new_archive.size(), " bytes"),
      [&]() -> absl::StatusOr<std::string> {
        std::vector<std::string_view> old_data, new_data;
        STRATA_ASSIGN_OR_RETURN(TreeManifest old,
                                ManifestOfArchive(old_archive, &old_data));
        STRATA_ASSIGN_OR_RETURN(TreeManifest nw,
                                ManifestOfArchive(new_archive, &new_data));
        auto reader = [](const std::vector<std::string_view>& data) {
          return [&data](size_t i, std::string& out) {
            out.append(data[i]);
            return absl::OkStatus();
          };
        };
        return CreateFromManifests(old, nw, reader(old_data), reader(new_data),
                                   options);
      });
}

absl::Status ApplyTreePatch(FileSystem& fs, std::string_view old_root,
                            std::string_view patch,
                            std::string_view staging_dir,
                            const TreeApplyOptions& options) {
  MemoryRandomAccessFile file(patch);
  return ApplyTreePatch(fs, old_root, file, staging_dir, options);
}

absl::Status ApplyTreePatch(FileSystem& fs, std::string_view old_root,
                            const RandomAccessFile& patch,
                            std::string_view staging_dir,
                            const TreeApplyOptions& options) {
  return ApplyTreePatchAndScan(fs, old_root, patch, staging_dir, options)
      .status();
}

absl::StatusOr<TreeManifest> ApplyTreePatchAndScan(
    FileSystem& fs, std::string_view old_root, const RandomAccessFile& patch,
    std::string_view staging_dir, const TreeApplyOptions& options) {
  STRATA_ASSIGN_OR_RETURN(TreePatchInfo info,
                          ReadTreePatchWithin(patch, options.max_manifest_bytes,
                                              options.max_entries));
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
  absl::Status s = applier.Prepare(patch, info);
  if (s.ok()) {
    s = applier.Run(patch, info);
    if (!s.ok()) {
      applier.RemoveLinks();
      DeleteRecursively(fs, staging_dir).IgnoreError();
    }
  }
  if (!s.ok()) {
    return Annotate(s,
                    strata::StrCat("applying tree patch into ", staging_dir));
  }
  return applier.TakeStaged();
}

}  // namespace strata::diff
