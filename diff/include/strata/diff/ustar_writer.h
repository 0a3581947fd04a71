// Strata's canonical ustar archive: how `strata publish --dir` packs a
// file tree (admin_cli/tree_archive.h), and how a device re-packs a tree it
// built from a tree patch to check it against the signed archive hash.
// Same tree, same bytes, so this encoding is part of the protocol
// (docs/formats/tree-patch.md, "Canonical archives"):
// - files and symlinks only, no directory entries, sorted bytewise by path;
// - mode 0644, or 0755 for a file with any execute bit, 0777 for a link;
// - uid, gid and mtime 0, no user or group names, type '0' or '2';
// - a path over 100 bytes split at the last '/' that leaves a name of at
//   most 100 bytes and a prefix of at most 155;
// - the checksum as six octal digits, NUL, space;
// - data padded with zeros to 512 bytes, then two zero blocks, nothing
//   after.
#ifndef STRATA_DIFF_USTAR_WRITER_H_
#define STRATA_DIFF_USTAR_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/base/env.h"
#include "strata/diff/byte_sink.h"
#include "strata/diff/tree_delta.h"

namespace strata::diff {

inline constexpr uint64_t kUstarBlock = 512;

// `n` rounded up to whole blocks.
inline uint64_t UstarPadded(uint64_t n) {
  return (n + kUstarBlock - 1) / kUstarBlock * kUstarBlock;
}

// The canonical header block of one entry: a file of `size` bytes, or a
// symlink when `link_target` is not empty. kInvalidArgument for a path over
// 255 bytes or one that cannot be split, or a target over 100 bytes.
absl::StatusOr<std::string> CanonicalUstarHeader(std::string_view path,
                                                 uint64_t size, bool executable,
                                                 std::string_view link_target);

// The tree an archive unpacks to on a device, as ScanTree would see it
// there: files with their mode normalised (0755 or 0644), symlinks, no
// directories, sorted by path as ScanTree sorts. `contents` (optional) receives
// each entry's data, viewing `archive`. kInvalidArgument for an archive
// UstarReader refuses or that names a path twice.
absl::StatusOr<TreeManifest> ManifestOfArchive(
    std::string_view archive, std::vector<std::string_view>* contents);

// Whether `archive` is byte for byte the canonical encoding of its own
// entries (so a device can rebuild it from the unpacked tree).
bool IsCanonicalUstar(std::string_view archive);

// Writes the canonical archive of the tree `manifest` describes, reading
// each file under `root` (its size must still match: kAborted otherwise).
// Symlinks come from the manifest. Returns the bytes written.
absl::StatusOr<uint64_t> WriteCanonicalUstar(FileSystem& fs,
                                             std::string_view root,
                                             const TreeManifest& manifest,
                                             ByteSink& sink);

// The same for a tree held in memory: `contents[i]` is entry i's data
// (ignored for symlinks; its length must be the entry's size).
absl::StatusOr<uint64_t> WriteCanonicalUstar(
    const TreeManifest& manifest, const std::vector<std::string_view>& contents,
    ByteSink& sink);

}  // namespace strata::diff

#endif  // STRATA_DIFF_USTAR_WRITER_H_
