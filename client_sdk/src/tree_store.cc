#include "tree_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "module_store.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/diff/byte_sink.h"
#include "strata/diff/tree_delta.h"
#include "strata/diff/ustar_reader.h"
#include "strata/diff/ustar_writer.h"

namespace strata::client {
namespace {

// A tree is complete once its marker <sha256>.ok exists.
constexpr std::string_view kDoneSuffix = ".ok";

bool IsPosix(FileSystem* fs) { return fs == PosixFileSystem(); }

absl::Status Errno(std::string_view what, const std::string& path) {
  const int e = errno;
  const std::string msg = StrCat(what, " ", path, ": ", std::strerror(e));
  if (e == ENOSPC || e == EDQUOT) return absl::ResourceExhaustedError(msg);
  return absl::InternalError(msg);
}

// Streams `size` bytes at `offset` of `f` to `fn` in pieces.
template <typename Fn>
absl::Status ReadRange(const RandomAccessFile& f, uint64_t offset,
                       uint64_t size, std::string& buf, const Fn& fn) {
  for (uint64_t done = 0; done < size;) {
    const size_t want =
        static_cast<size_t>(std::min<uint64_t>(buf.size(), size - done));
    STRATA_ASSIGN_OR_RETURN(size_t n, f.Read(offset + done, want, buf.data()));
    if (n == 0) {
      return absl::DataLossError("the archive ended inside a file's data");
    }
    STRATA_RETURN_IF_ERROR(fn(std::string_view(buf.data(), n)));
    done += n;
  }
  return absl::OkStatus();
}

// The entries of a tree archive, checked (diff/ustar_reader.h); an archive
// breaking the path rules is kInvalidArgument naming the entry.
absl::StatusOr<std::vector<diff::UstarEntry>> ReadEntries(
    const RandomAccessFile& archive, std::string_view sha256,
    std::string& buf) {
  diff::UstarReader reader;
  absl::Status read =
      ReadRange(archive, 0, archive.Size(), buf,
                [&](std::string_view piece) { return reader.Append(piece); });
  absl::StatusOr<std::vector<diff::UstarEntry>> entries =
      read.ok() ? reader.Finish()
                : absl::StatusOr<std::vector<diff::UstarEntry>>(read);
  if (absl::IsInvalidArgument(entries.status())) {
    return absl::InvalidArgumentError(
        StrCat("tree ", sha256.substr(0, 12),
               " is refused: ", ToStd(entries.status().message()),
               "; publish the directory again with `strata publish --dir`"));
  }
  return entries;
}

}  // namespace

absl::Status TreeStore::Open() { return CreateDirs(*fs_, root_); }

absl::StatusOr<bool> TreeStore::IsTreeArchive(FileSystem& fs,
                                              std::string_view path) {
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> f,
                          fs.NewRandomAccessFile(path));
  std::string head(512, '\0');
  STRATA_ASSIGN_OR_RETURN(size_t n, f->Read(0, head.size(), head.data()));
  head.resize(n);
  return diff::LooksLikeUstar(head);
}

std::string TreeStore::DirOf(std::string_view sha256) const {
  return JoinPath(root_, sha256);
}

std::string TreeStore::MarkerOf(std::string_view sha256) const {
  return JoinPath(root_, StrCat(sha256, kDoneSuffix));
}

bool TreeStore::Has(std::string_view sha256) {
  absl::StatusOr<FileInfo> dir = fs_->Stat(DirOf(sha256));
  return dir.ok() && dir->is_directory && fs_->Exists(MarkerOf(sha256));
}

absl::Status TreeStore::Unpack(std::string_view sha256,
                               std::string_view archive_path,
                               const std::optional<std::string>& previous,
                               UnpackStats* stats) {
  if (!IsSha256Hex(sha256)) {
    return absl::InvalidArgumentError(
        StrCat("tree name '", sha256, "' is not a SHA-256"));
  }
  if (Has(sha256)) return absl::OkStatus();
  UnpackStats local;
  if (stats == nullptr) stats = &local;
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> archive,
                          fs_->NewRandomAccessFile(archive_path));
  std::string buf(ReadBufferSize(archive->Size()), '\0');
  absl::StatusOr<std::vector<diff::UstarEntry>> entries =
      ReadEntries(*archive, sha256, buf);
  STRATA_RETURN_IF_ERROR(entries.status());
  for (const diff::UstarEntry& e : *entries) {
    if (e.type == diff::UstarEntry::Type::kSymlink && !IsPosix(fs_)) {
      return absl::FailedPreconditionError(
          StrCat("tree ", sha256.substr(0, 12), " holds the symlink '", e.path,
                 "', which only the POSIX file system can create"));
    }
  }
  // Unpacked in place, complete once the marker is written: a directory
  // without its marker is a leftover of an interrupted unpack.
  const std::string tree = DirOf(sha256);
  if (fs_->Exists(MarkerOf(sha256))) {
    // The directory went missing: the marker goes before it is rebuilt.
    STRATA_RETURN_IF_ERROR(fs_->DeleteFile(MarkerOf(sha256)));
    STRATA_RETURN_IF_ERROR(fs_->SyncDir(root_));
  }
  STRATA_RETURN_IF_ERROR(RemoveTree(tree));
  STRATA_RETURN_IF_ERROR(fs_->CreateDir(tree));
  // Directories in creation order, synced last (children first).
  std::vector<std::string> dirs = {tree};
  std::set<std::string> made;
  auto make_parents = [&](const std::string& rel) -> absl::Status {
    for (size_t p = rel.find('/'); p != std::string::npos;
         p = rel.find('/', p + 1)) {
      const std::string d = rel.substr(0, p);
      if (!made.insert(d).second) continue;
      STRATA_RETURN_IF_ERROR(fs_->CreateDir(JoinPath(tree, d)));
      dirs.push_back(JoinPath(tree, d));
    }
    return absl::OkStatus();
  };
  absl::Status s = [&]() -> absl::Status {
    for (const diff::UstarEntry& e : *entries) {
      const std::string dest = JoinPath(tree, e.path);
      STRATA_RETURN_IF_ERROR(make_parents(e.path));
      if (e.type == diff::UstarEntry::Type::kDirectory) {
        if (made.insert(e.path).second) {
          STRATA_RETURN_IF_ERROR(fs_->CreateDir(dest));
          dirs.push_back(dest);
        }
        continue;
      }
      if (e.type == diff::UstarEntry::Type::kSymlink) {
        if (::symlink(e.link_target.c_str(), dest.c_str()) != 0) {
          return Errno("cannot create the symlink", dest);
        }
        continue;
      }
      ++stats->files;
      const uint32_t mode = (e.mode & 0111) != 0 ? 0755 : 0644;
      // An unchanged file of the previous tree is shared (POSIX: a hard
      // link; files in trees are never modified in place).
      if (previous.has_value() && IsPosix(fs_)) {
        const std::string old = JoinPath(*previous, e.path);
        struct stat st;
        if (::lstat(old.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
            static_cast<uint64_t>(st.st_size) == e.size &&
            (st.st_mode & 0777) == mode) {
          Sha256 hasher;
          STRATA_RETURN_IF_ERROR(ReadRange(*archive, e.data_offset, e.size, buf,
                                           [&](std::string_view piece) {
                                             hasher.Update(piece);
                                             return absl::OkStatus();
                                           }));
          absl::StatusOr<std::string> old_sha = HashFile(*fs_, old);
          if (old_sha.ok() && *old_sha == ToHex(hasher.Finish())) {
            if (::link(old.c_str(), dest.c_str()) != 0) {
              return Errno("cannot hard-link", dest);
            }
            ++stats->linked;
            continue;
          }
        }
      }
      STRATA_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> out,
                              fs_->NewWritableFile(dest));
      STRATA_RETURN_IF_ERROR(ReadRange(
          *archive, e.data_offset, e.size, buf,
          [&](std::string_view piece) { return out->Append(piece); }));
      STRATA_RETURN_IF_ERROR(out->Sync());
      STRATA_RETURN_IF_ERROR(out->Close());
      STRATA_RETURN_IF_ERROR(fs_->SetPermissions(dest, mode));
      stats->bytes_written += e.size;
    }
    for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
      STRATA_RETURN_IF_ERROR(fs_->SyncDir(*it));
    }
    return WriteFileAtomically(*fs_, MarkerOf(sha256), "");
  }();
  if (!s.ok()) (void)RemoveTree(tree);
  return s;
}

namespace {

// Hashes and counts what it forwards.
class HashingSink : public diff::ByteSink {
 public:
  explicit HashingSink(diff::ByteSink* next) : next_(next) {}
  absl::Status Append(std::string_view data) override {
    sha_.Update(data);
    size_ += data.size();
    return next_->Append(data);
  }
  std::string Hex() { return ToHex(sha_.Finish()); }
  uint64_t size() const { return size_; }

 private:
  diff::ByteSink* next_;
  Sha256 sha_;
  uint64_t size_ = 0;
};

}  // namespace

absl::Status TreeStore::ApplyPatch(std::string_view sha256, uint64_t size,
                                   std::string_view from_dir,
                                   std::string_view patch_path,
                                   std::string_view archive_out) {
  if (!IsSha256Hex(sha256)) {
    return absl::InvalidArgumentError(
        StrCat("tree name '", sha256, "' is not a SHA-256"));
  }
  const std::string tree = DirOf(sha256);
  if (fs_->Exists(MarkerOf(sha256))) {
    STRATA_RETURN_IF_ERROR(fs_->DeleteFile(MarkerOf(sha256)));
    STRATA_RETURN_IF_ERROR(fs_->SyncDir(root_));
  }
  STRATA_RETURN_IF_ERROR(RemoveTree(tree));
  const std::string out(archive_out);
  absl::Status s = [&]() -> absl::Status {
    STRATA_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> patch,
                            fs_->NewRandomAccessFile(patch_path));
    diff::TreeApplyOptions options;
    // Bounds from the signed size, checked before the records are decoded:
    // an archive of `size` bytes holds at most size/512 entries, each a
    // 512-byte header holding more than its manifest record does.
    options.max_total_size = size;
    options.max_entries = size / diff::kUstarBlock;
    options.max_manifest_bytes = size + 4096;
    // The archive form decodes the new archive itself: it must be the
    // signed size before it is decoded.
    options.expected_archive_size = size;
    options.link_unchanged = IsPosix(fs_);
    // Checks the base's digest, syncs every file and directory, re-scans
    // the result against the patch's new tree.
    // (The applier's final scan is the tree's manifest: not hashed again.)
    STRATA_ASSIGN_OR_RETURN(
        diff::TreeManifest built,
        diff::ApplyTreePatchAndScan(*fs_, from_dir, *patch, tree, options));
    // The re-packed archive keeps only the execute bit: the modes must be
    // the ones an unpacked archive has, or a patch could choose others.
    for (const diff::TreeEntry& e : built) {
      if (e.type == diff::EntryType::kFile && e.mode != 0644 &&
          e.mode != 0755) {
        char mode[8];
        std::snprintf(mode, sizeof(mode), "%04o", e.mode);
        return absl::DataLossError(
            StrCat("the tree patch gives ", e.path, " mode ", mode,
                   ", not 0644 or 0755 as the signed archive does"));
      }
    }
    STRATA_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file,
                            fs_->NewWritableFile(out));
    diff::WritableFileSink file_sink(file.get());
    HashingSink sink(&file_sink);
    STRATA_RETURN_IF_ERROR(
        diff::WriteCanonicalUstar(*fs_, tree, built, sink).status());
    STRATA_RETURN_IF_ERROR(file_sink.Flush());
    STRATA_RETURN_IF_ERROR(file->Sync());
    STRATA_RETURN_IF_ERROR(file->Close());
    if (sink.size() != size || sink.Hex() != sha256) {
      return absl::DataLossError(StrCat(
          "the tree built from the patch re-packs to ", sink.size(),
          " bytes that are not the signed archive ", sha256.substr(0, 12)));
    }
    return absl::OkStatus();
  }();
  if (!s.ok()) {
    (void)RemoveTree(tree);
    if (fs_->Exists(out)) (void)fs_->DeleteFile(out);
  }
  return s;
}

absl::Status TreeStore::MarkComplete(std::string_view sha256) {
  return WriteFileAtomically(*fs_, MarkerOf(sha256), "");
}

absl::Status TreeStore::Verify(std::string_view sha256,
                               std::string_view archive_path) {
  if (!Has(sha256)) return absl::OkStatus();
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> archive,
                          fs_->NewRandomAccessFile(archive_path));
  std::string buf(ReadBufferSize(archive->Size()), '\0');
  STRATA_ASSIGN_OR_RETURN(std::vector<diff::UstarEntry> entries,
                          ReadEntries(*archive, sha256, buf));
  const std::string dir = DirOf(sha256);
  for (const diff::UstarEntry& e : entries) {
    if (e.type != diff::UstarEntry::Type::kFile) continue;
    const std::string path = JoinPath(dir, e.path);
    Sha256 hasher;
    STRATA_RETURN_IF_ERROR(ReadRange(*archive, e.data_offset, e.size, buf,
                                     [&](std::string_view piece) {
                                       hasher.Update(piece);
                                       return absl::OkStatus();
                                     }));
    absl::StatusOr<FileInfo> info = fs_->Stat(path);
    absl::StatusOr<std::string> on_disk = HashFile(*fs_, path);
    if (!info.ok() || info->size != e.size || !on_disk.ok() ||
        *on_disk != ToHex(hasher.Finish())) {
      return absl::DataLossError(
          StrCat("file ", e.path, " of tree ", sha256.substr(0, 12),
                 " is missing or differs from its archive; remove the "
                 "directory ",
                 dir,
                 " (and its .ok marker) and the SDK "
                 "unpacks it again"));
    }
  }
  return absl::OkStatus();
}

absl::Status TreeStore::Collect(const std::set<std::string>& keep) {
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_->ListDir(root_));
  const std::set<std::string> present(names.begin(), names.end());
  bool removed = false;
  // Markers first: a tree whose removal is interrupted is incomplete.
  for (const std::string& n : names) {
    const bool marker = n.size() > kDoneSuffix.size() &&
                        n.substr(n.size() - kDoneSuffix.size()) == kDoneSuffix;
    if (!marker) continue;
    const std::string sha = n.substr(0, n.size() - kDoneSuffix.size());
    if (keep.count(sha) > 0 && present.count(sha) > 0) continue;
    STRATA_RETURN_IF_ERROR(fs_->DeleteFile(JoinPath(root_, n)));
    removed = true;
  }
  if (removed) STRATA_RETURN_IF_ERROR(fs_->SyncDir(root_));
  for (const std::string& n : names) {
    const bool marker = n.size() > kDoneSuffix.size() &&
                        n.substr(n.size() - kDoneSuffix.size()) == kDoneSuffix;
    if (marker) continue;
    if (keep.count(n) > 0 && present.count(StrCat(n, kDoneSuffix)) > 0) {
      continue;
    }
    STRATA_RETURN_IF_ERROR(RemoveTree(JoinPath(root_, n)));
    removed = true;
  }
  if (removed) STRATA_RETURN_IF_ERROR(fs_->SyncDir(root_));
  return absl::OkStatus();
}

absl::Status TreeStore::RemoveTree(const std::string& path) {
  if (!IsPosix(fs_)) return DeleteRecursively(*fs_, path);
  // The Env's Stat follows symlinks: lstat so a link is removed, never
  // followed.
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return Errno("cannot inspect", path);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Errno("cannot remove", path);
    }
    return absl::OkStatus();
  }
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_->ListDir(path));
  for (const std::string& n : names) {
    STRATA_RETURN_IF_ERROR(RemoveTree(JoinPath(path, n)));
  }
  return fs_->DeleteDir(path);
}

}  // namespace strata::client
