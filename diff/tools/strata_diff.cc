// strata-diff: make, apply and inspect Strata patches (files and trees).
//
// Exit codes (stable):
//   0 success
//   1 internal or I/O error
//   2 usage error or invalid argument
//   3 corrupt, truncated or wrong-base patch (kDataLoss)
//   4 refused: over a size limit, or out of memory (kResourceExhausted)
//   5 precondition failed (e.g. the output directory already exists)
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "strata/base/env.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"
#include "strata/diff/delta.h"
#include "strata/diff/file_delta.h"
#include "strata/diff/tree_delta.h"

namespace {

using strata::diff::PatchFormat;

int ExitCode(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return 0;
    case absl::StatusCode::kInvalidArgument:
      return 2;
    case absl::StatusCode::kDataLoss:
      return 3;
    case absl::StatusCode::kResourceExhausted:
      return 4;
    case absl::StatusCode::kFailedPrecondition:
      return 5;
    default:
      return 1;
  }
}

int Report(const absl::Status& s) {
  if (!s.ok()) {
    std::cerr << "strata-diff: error: " << strata::ToStd(s.message()) << " ["
              << absl::StatusCodeToString(s.code()) << "]\n";
  }
  return ExitCode(s);
}

// Progress on stderr for long runs: with --progress, or when stderr is a
// terminal; nothing is printed during the first second.
strata::diff::ProgressFn MakeProgress(bool forced) {
  if (!forced && !isatty(2)) return nullptr;
  using Clock = std::chrono::steady_clock;
  struct State {
    Clock::time_point start = Clock::now(), last;
    bool printed = false;
  };
  auto st = std::make_shared<State>();
  return [st, forced](std::string_view stage, double f) {
    auto now = Clock::now();
    if (!forced && now - st->start < std::chrono::seconds(1)) return;
    if (f < 1.0 && now - st->last < std::chrono::milliseconds(250)) return;
    st->last = now;
    st->printed = true;
    std::fprintf(stderr, "\r%-12.*s %5.1f%%%s", static_cast<int>(stage.size()),
                 stage.data(), f * 100.0, f >= 1.0 ? "\n" : "");
    std::fflush(stderr);
  };
}

bool IsDir(strata::FileSystem& fs, const std::string& p) {
  auto st = fs.Stat(p);
  return st.ok() && st->is_directory;
}

const char* OpName(strata::diff::TreeOp op) {
  switch (op) {
    case strata::diff::TreeOp::kKeep:
      return "keep";
    case strata::diff::TreeOp::kContent:
      return "content";
    case strata::diff::TreeOp::kCopy:
      return "copy";
    case strata::diff::TreeOp::kSymlink:
      return "symlink";
    case strata::diff::TreeOp::kChange:
      return "change";
  }
  return "?";
}

// The first bytes of a file (to tell tree patches from file patches
// without reading a whole patch).
std::string Head(strata::FileSystem& fs, const std::string& path) {
  auto f = fs.NewRandomAccessFile(path);
  if (!f.ok()) return "";
  std::string head(8, '\0');
  auto got = (*f)->Read(0, head.size(), head.data());
  head.resize(got.ok() ? *got : 0);
  return head;
}

// 64 hex digits (checked by the option's validator) as a digest.
strata::Sha256Digest ParseSha256(const std::string& hex) {
  strata::Sha256Digest d{};
  for (size_t i = 0; i < d.size(); ++i) {
    d[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  }
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "strata-diff: binary and file-tree deltas (smaller and faster than "
      "bsdiff).\n"
      "Exit codes: 0 ok, 1 internal/I/O error, 2 usage or invalid argument, "
      "3 corrupt/truncated/wrong-base patch, 4 over a size limit or out of "
      "memory, 5 output "
      "already exists."};
  app.require_subcommand(1);
  strata::FileSystem& fs = *strata::PosixFileSystem();

  // diff
  std::string d_old, d_new, d_patch, d_format = "strata", d_method = "auto";
  int level = 19, window_log = 20, threads = 2, prefix_window_log = 23;
  bool progress = false, quiet = false;
  auto* diff = app.add_subcommand(
      "diff",
      "Make a patch from OLD to NEW (files, or directories for a "
      "tree patch)");
  diff->add_option("old", d_old, "old file or directory")->required();
  diff->add_option("new", d_new, "new file or directory")->required();
  diff->add_option("patch", d_patch, "patch to write")->required();
  diff->add_option("--format", d_format, "strata (default) or bsdiff40")
      ->check(CLI::IsMember({"strata", "bsdiff40"}));
  diff->add_option("-l,--level", level, "zstd level 1..22 (default 19)")
      ->check(CLI::Range(1, 22));
  diff->add_option("--window-log", window_log,
                   "log2 zstd window per stream, 10..27 (default 20); the "
                   "applier needs ~3x this much memory")
      ->check(CLI::Range(10, 27));
  diff->add_option("--method", d_method,
                   "auto (default: the smaller), suffix-array (format "
                   "version 1) or zstd-prefix (version 3: one frame, when "
                   "old and new fit the prefix window together; else "
                   "version 2: blocks)")
      ->check(CLI::IsMember({"auto", "suffix-array", "zstd-prefix"}));
  diff->add_option("--prefix-window-log", prefix_window_log,
                   "zstd-prefix: log2 of the old window plus block the "
                   "applier holds, 16..27 (default 23)")
      ->check(CLI::Range(16, 27));
  diff->add_option("-j,--threads", threads, "threads (default 2)")
      ->check(CLI::Range(1, 64));
  std::string output_check = "patch";
  diff->add_option("--output-check", output_check,
                   "patch (default): a compact zstd-prefix patch carries a "
                   "32-bit check of its output; caller: it carries none (4 "
                   "bytes smaller) and applying needs --expect-sha256, as "
                   "Strata's delivery path has from the signed statement")
      ->check(CLI::IsMember({"patch", "caller"}));
  std::string tree_form = "auto";
  diff->add_option("--tree-form", tree_form,
                   "directories: auto (default: the per-file form, and "
                   "the archive form too when both archives are at most "
                   "1 MiB together; the smaller is kept), per-file "
                   "(tree patch v2: unchanged files by reference, changed "
                   "content in one binary patch) or archive (v3: a compact "
                   "patch between the trees' canonical ustar archives; for "
                   "files of mode 0644/0755 whose archives fit the prefix "
                   "window together)")
      ->check(CLI::IsMember({"auto", "per-file", "archive"}));
  diff->add_flag("--progress", progress,
                 "report progress on stderr (default: when it is a terminal)");
  diff->add_flag("-q,--quiet", quiet, "no summary line");

  // apply
  std::string a_old, a_patch, a_out;
  uint64_t max_size = 0;
  auto* apply = app.add_subcommand(
      "apply",
      "Apply PATCH to OLD, writing OUT (a file, or a fresh "
      "directory for a tree patch); OUT appears only if verified");
  apply->add_option("old", a_old, "old file or directory")->required();
  apply->add_option("patch", a_patch, "patch file")->required();
  apply->add_option("out", a_out, "output file or staging directory")
      ->required();
  apply->add_option("--max-size", max_size,
                    "refuse patches declaring more output bytes (0: no "
                    "limit)");
  std::string expect_sha256;
  apply
      ->add_option("--expect-sha256", expect_sha256,
                   "the SHA-256 (hex) the output must have; required for "
                   "patches made with --output-check caller; for an "
                   "archive-form tree patch, of the new tree's canonical "
                   "archive (what `strata publish --dir` uploads)")
      ->check([](const std::string& v) {
        return strata::IsSha256Hex(v) ? std::string()
                                      : std::string(
                                            "not 64 lowercase hex "
                                            "digits of a SHA-256");
      });
  apply->add_flag("--progress", progress,
                  "report progress on stderr (default: when it is a terminal)");

  // info
  std::string i_patch;
  bool list = false;
  auto* info = app.add_subcommand("info", "Describe a patch");
  info->add_option("patch", i_patch, "patch file")->required();
  info->add_flag("--list", list, "list every entry of a tree patch");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  if (*diff) {
    strata::diff::DiffOptions o;
    o.format =
        d_format == "bsdiff40" ? PatchFormat::kBsdiff40 : PatchFormat::kStrata;
    o.level = level;
    o.window_log = window_log;
    o.threads = threads;
    o.method =
        d_method == "suffix-array"  ? strata::diff::PatchMethod::kSuffixArray
        : d_method == "zstd-prefix" ? strata::diff::PatchMethod::kZstdPrefix
                                    : strata::diff::PatchMethod::kAuto;
    o.prefix_window_log = prefix_window_log;
    o.output_check = output_check == "caller"
                         ? strata::diff::OutputCheck::kByCaller
                         : strata::diff::OutputCheck::kInPatch;
    o.progress = MakeProgress(progress);
    auto t0 = std::chrono::steady_clock::now();
    absl::Status s;
    bool tree = IsDir(fs, d_old) || IsDir(fs, d_new);
    if (!tree && tree_form != "auto") {
      return Report(absl::InvalidArgumentError(
          "--tree-form is for directories, not files"));
    }
    if (tree) {
      if (!IsDir(fs, d_old) || !IsDir(fs, d_new)) {
        return Report(absl::InvalidArgumentError(
            "for a tree patch both OLD and NEW must be directories"));
      }
      if (o.format != PatchFormat::kStrata) {
        return Report(absl::InvalidArgumentError(
            "--format bsdiff40 is for files, not directories"));
      }
      strata::diff::TreeDiffOptions to;
      to.delta = o;
      to.form = tree_form == "per-file"  ? strata::diff::TreePatchForm::kPerFile
                : tree_form == "archive" ? strata::diff::TreePatchForm::kArchive
                                         : strata::diff::TreePatchForm::kAuto;
      auto patch = strata::diff::CreateTreePatch(fs, d_old, d_new, to);
      s = patch.status();
      if (s.ok()) s = strata::WriteFileAtomically(fs, d_patch, *patch);
    } else {
      s = strata::diff::DiffFiles(fs, d_old, d_new, d_patch, o);
    }
    if (!s.ok()) return Report(s);
    if (!quiet) {
      double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
              .count();
      auto st = fs.Stat(d_patch);
      std::fprintf(stderr, "wrote %s: %llu bytes in %.2f s\n", d_patch.c_str(),
                   st.ok() ? static_cast<unsigned long long>(st->size) : 0ull,
                   secs);
    }
    return 0;
  }

  if (*apply) {
    // Patches are read in pieces while applying, never whole.
    if (strata::diff::IsTreePatch(Head(fs, a_patch))) {
      auto patch = fs.NewRandomAccessFile(a_patch);
      if (!patch.ok()) return Report(patch.status());
      strata::diff::TreeApplyOptions o;
      if (!expect_sha256.empty()) {
        auto ti = strata::diff::ReadTreePatch(**patch);
        if (ti.ok() && !ti->archive_form) {
          return Report(absl::InvalidArgumentError(
              "--expect-sha256 is for file patches and archive-form tree "
              "patches; this per-file tree patch checks 128 bits of the new "
              "tree's digest itself"));
        }
        o.expected_archive_sha256 = ParseSha256(expect_sha256);
      }
      if (max_size > 0) o.max_total_size = max_size;
      o.progress = MakeProgress(progress);
      return Report(strata::diff::ApplyTreePatch(fs, a_old, **patch, a_out, o));
    }
    strata::diff::ApplyOptions o;
    if (max_size > 0) o.max_output_size = max_size;
    if (!expect_sha256.empty())
      o.expected_new_sha256 = ParseSha256(expect_sha256);
    o.progress = MakeProgress(progress);
    return Report(strata::diff::ApplyPatchFile(fs, a_old, a_patch, a_out, o));
  }

  if (*info) {
    auto patch = fs.NewRandomAccessFile(i_patch);
    if (!patch.ok()) return Report(patch.status());
    const size_t patch_bytes = static_cast<size_t>((*patch)->Size());
    if (strata::diff::IsTreePatch(Head(fs, i_patch))) {
      auto ti = strata::diff::ReadTreePatch(**patch);
      if (!ti.ok()) return Report(ti.status());
      if (ti->archive_form) {
        std::printf(
            "format: strata tree patch v3 (archive form: a compact patch "
            "between the trees' canonical ustar archives)\npatch bytes: "
            "%zu\nnew archive bytes: %llu\nold archive sha256: %s...\n"
            "frame: %llu bytes, with its output check\n",
            patch_bytes, static_cast<unsigned long long>(ti->archive_bytes),
            strata::ToHex(ti->old_tree).substr(0, 8).c_str(),
            static_cast<unsigned long long>(ti->body_bytes));
        if (list) {
          std::printf(
              "(the archive form lists no entries: they are known once the "
              "new archive is rebuilt)\n");
        }
        return 0;
      }
      size_t counts[5] = {}, kept = 0;
      for (const auto& e : ti->entries) {
        ++counts[static_cast<int>(e.op)];
        if (e.op == strata::diff::TreeOp::kKeep) kept += e.count;
      }
      std::printf(
          "format: strata tree patch v%u\npatch bytes: %zu\nnew tree bytes: "
          "%llu\nold tree: %llu entries, digest %s\nnew tree: %llu entries, "
          "digest %s\nmanifest: %llu bytes\nbody: %llu bytes for %llu "
          "content bytes\nentries: %zu kept (%zu runs), %zu changed, %zu new, "
          "%zu copy, %zu symlink\n",
          ti->version, patch_bytes,
          static_cast<unsigned long long>(ti->new_tree_bytes),
          static_cast<unsigned long long>(ti->old_entries),
          strata::ToHex(ti->old_tree).substr(0, 16).c_str(),
          static_cast<unsigned long long>(ti->new_entries),
          strata::ToHex(ti->new_tree).substr(0, 32).c_str(),
          static_cast<unsigned long long>(ti->manifest_bytes),
          static_cast<unsigned long long>(ti->body_bytes),
          static_cast<unsigned long long>(ti->content_bytes), kept, counts[0],
          counts[4], counts[1], counts[2], counts[3]);
      if (list) {
        for (const auto& e : ti->entries) {
          if (e.op == strata::diff::TreeOp::kKeep) {
            std::printf("keep    %llu old entries from #%llu\n",
                        static_cast<unsigned long long>(e.count),
                        static_cast<unsigned long long>(e.old_index));
          } else if (e.op == strata::diff::TreeOp::kChange) {
            std::printf("change  old #%llu, now %llu bytes\n",
                        static_cast<unsigned long long>(e.old_index),
                        static_cast<unsigned long long>(e.entry.size));
          } else if (e.op == strata::diff::TreeOp::kCopy) {
            std::printf("copy    %s <- old #%llu\n", e.entry.path.c_str(),
                        static_cast<unsigned long long>(e.old_index));
          } else {
            std::printf("%-7s %s\n", OpName(e.op), e.entry.path.c_str());
          }
        }
      }
      return 0;
    }
    auto pi = strata::diff::ReadPatchInfo(**patch);
    if (!pi.ok()) return Report(pi.status());
    if (pi->format == PatchFormat::kBsdiff40) {
      std::printf(
          "format: BSDIFF40 (bzip2; no base check)\npatch bytes: %zu\nnew "
          "size: %llu\n",
          patch_bytes, static_cast<unsigned long long>(pi->new_size));
      return 0;
    }
    if (pi->version == 3) {
      std::printf(
          "format: strata v3 (compact), zstd-prefix, one frame\npatch bytes: "
          "%zu\nold sha256: %s...\nnew size: %llu\noutput check: %s\n",
          patch_bytes, strata::ToHex(pi->old_sha256).substr(0, 8).c_str(),
          static_cast<unsigned long long>(pi->new_size),
          pi->frame_checksum || pi->new_size == 0
              ? "in the patch (zstd content checksum)"
              : "by the caller (apply needs --expect-sha256)");
      return 0;
    }
    if (pi->method == strata::diff::PatchMethod::kZstdPrefix) {
      std::printf(
          "format: strata v%u, zstd-prefix\npatch bytes: %zu\nold size: "
          "%llu\nold sha256: %s\nnew size: %llu\nnew sha256: %s\nblocks: "
          "%llu\nframes: %llu bytes\napply window: 2^%u bytes\n",
          pi->version, patch_bytes,
          static_cast<unsigned long long>(pi->old_size),
          strata::ToHex(pi->old_sha256).c_str(),
          static_cast<unsigned long long>(pi->new_size),
          strata::ToHex(pi->new_sha256).c_str(),
          static_cast<unsigned long long>(pi->segments),
          static_cast<unsigned long long>(pi->extra_bytes), pi->window_log);
      return 0;
    }
    std::printf(
        "format: strata v%u, suffix-array\npatch bytes: %zu\nold size: "
        "%llu\nold sha256: "
        "%s\nnew size: %llu\nnew sha256: %s\nsegments: %llu\nstreams "
        "(compressed/raw): ctrl %llu, diff %llu/%llu, extra %llu/%llu\n",
        pi->version, patch_bytes, static_cast<unsigned long long>(pi->old_size),
        strata::ToHex(pi->old_sha256).c_str(),
        static_cast<unsigned long long>(pi->new_size),
        strata::ToHex(pi->new_sha256).c_str(),
        static_cast<unsigned long long>(pi->segments),
        static_cast<unsigned long long>(pi->ctrl_bytes),
        static_cast<unsigned long long>(pi->diff_bytes),
        static_cast<unsigned long long>(pi->diff_raw_bytes),
        static_cast<unsigned long long>(pi->extra_bytes),
        static_cast<unsigned long long>(pi->extra_raw_bytes));
    return 0;
  }
  return 2;
}
