// strata publish: upload one artifact version.
#include <unistd.h>

#include <iostream>
#include <memory>
#include <optional>

#include "../app_trust.h"
#include "../content_checks.h"
#include "layer_flag.h"
#include "strata/admin_cli/admin_client.h"
#include "strata/admin_cli/cli_context.h"
#include "strata/admin_cli/render.h"
#include "strata/admin_cli/tree_archive.h"
#include "strata/base/env.h"
#include "strata/base/json_schema.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/proto/statement_signing.h"
#include "strata/signing/keys.h"
#include "strata/signing/metadata.h"
#include "strata/signing/verifier.h"

namespace strata::admin {
namespace {

struct PublishFlags {
  std::string app, layer, module, version, file, host_build, idempotency_key;
  std::vector<std::string> keys;
  bool embedded = false;
  std::string dir;
  bool dry_run = false;
  bool quiet = false;
  bool allow_empty = false;
  // How devices fetch and switch to it (ArtifactStatement.delivery; the
  // signed target's custom "delivery").
  bool on_demand = false, mandatory = false;
  std::string network = "any", install = "default";
};

v1::DeliveryPolicy DeliveryOf(const PublishFlags& f) {
  v1::DeliveryPolicy p;
  p.set_on_demand(f.on_demand);
  p.set_mandatory(f.mandatory);
  p.set_network(f.network == "unmetered" ? v1::NETWORK_UNMETERED_ONLY
                                         : v1::NETWORK_ANY);
  p.set_install_mode(f.install == "immediate"     ? v1::INSTALL_IMMEDIATE
                     : f.install == "next_launch" ? v1::INSTALL_NEXT_LAUNCH
                     : f.install == "next_resume" ? v1::INSTALL_NEXT_RESUME
                                                  : v1::INSTALL_DEFAULT);
  return p;
}

// The target's custom "delivery" (null when every field is the default).
Json DeliveryCustom(const PublishFlags& f) {
  if (!f.on_demand && !f.mandatory && f.network == "any" &&
      f.install == "default") {
    return Json();
  }
  Json d = Json::MakeObject();
  if (f.on_demand) d["on_demand"] = true;
  if (f.mandatory) d["mandatory"] = true;
  if (f.network != "any") d["network"] = f.network;
  if (f.install != "default") d["install"] = f.install;
  return d;
}

// The content to publish: a file as it is, or a directory packed.
struct Content {
  std::string bytes;
  std::optional<PackedTree> tree;  // --dir
};

absl::StatusOr<Content> ReadContent(const PublishFlags& f) {
  Content out;
  if (!f.dir.empty()) {
    absl::StatusOr<PackedTree> tree = PackTree(*PosixFileSystem(), f.dir);
    if (!tree.ok()) {
      if (tree.status().code() == absl::StatusCode::kResourceExhausted) {
        return tree.status();
      }
      return absl::InvalidArgumentError(StrCat("cannot publish --dir ", f.dir,
                                               ": ",
                                               ToStd(tree.status().message())));
    }
    out.bytes = std::move(tree->archive);
    tree->archive.clear();
    out.tree = *std::move(tree);
    return out;
  }
  // The size first: nothing above the limit is read or hashed.
  absl::StatusOr<FileInfo> info = PosixFileSystem()->Stat(f.file);
  if (!info.ok() || info->is_directory) {
    return absl::InvalidArgumentError(
        StrCat("cannot read --file ", f.file, ": ",
               info.ok() ? std::string("it is a directory; use --dir")
                         : ToStd(info.status().message())));
  }
  if (info->size > kMaxPublishBytes) {
    return absl::ResourceExhaustedError(
        StrCat("--file ", f.file, " is ", info->size, " bytes (",
               FormatBytes(info->size), "); a publish is at most ",
               kMaxPublishBytes, " bytes (512 MiB)"));
  }
  absl::StatusOr<std::string> bytes = PosixFileSystem()->ReadFile(f.file);
  if (!bytes.ok()) {
    return absl::InvalidArgumentError(StrCat(
        "cannot read --file ", f.file, ": ", ToStd(bytes.status().message())));
  }
  out.bytes = *std::move(bytes);
  return out;
}

// "  1.2 KiB  web/app.js" lines, then what was skipped.
std::string TreeListing(const std::string& dir, const PackedTree& tree,
                        uint64_t archive_bytes) {
  uint64_t files = 0, links = 0, bytes = 0;
  for (const PackedEntry& e : tree.entries) {
    if (e.link_target.empty()) {
      ++files;
      bytes += e.size;
    } else {
      ++links;
    }
  }
  std::string out =
      StrCat("packed ", dir, ": ", files, files == 1 ? " file" : " files", " (",
             FormatBytes(bytes), ")");
  if (links > 0)
    out += StrCat(", ", links, links == 1 ? " symlink" : " symlinks");
  out += StrCat(", archive ", FormatBytes(archive_bytes), "\n");
  Table table({"SIZE", "PATH"}, {true, false});
  for (const PackedEntry& e : tree.entries) {
    table.AddRow({e.link_target.empty() ? FormatBytes(e.size) : "link",
                  e.link_target.empty()
                      ? e.path
                      : StrCat(e.path, " -> ", e.link_target)});
  }
  std::string rendered = table.Render();
  // Indented, without the header line.
  size_t first = rendered.find('\n');
  std::string rows =
      first == std::string::npos ? "" : rendered.substr(first + 1);
  for (size_t pos = 0; pos < rows.size();) {
    size_t end = rows.find('\n', pos);
    if (end == std::string::npos) end = rows.size();
    out += StrCat("  ", rows.substr(pos, end - pos), "\n");
    pos = end + 1;
  }
  if (!tree.skipped.empty()) {
    constexpr size_t kShown = 20;
    out += StrCat("skipped ", tree.skipped.size(),
                  " (dot files, VCS files, .strataignore):");
    for (size_t i = 0; i < tree.skipped.size() && i < kShown; ++i) {
      out += StrCat(" ", tree.skipped[i]);
    }
    if (tree.skipped.size() > kShown) {
      out += StrCat(" and ", tree.skipped.size() - kShown, " more");
    }
    out += "\n";
  }
  return out;
}

// The --dry-run result as one JSON object.
Json DryRunJson(const PublishFlags& f, const Content& c,
                const std::string& sha256) {
  Json out = Json::MakeObject();
  out["dry_run"] = true;
  out["artifact"] = StrCat(f.layer, "/", f.module, "@", f.version);
  out["size"] = c.bytes.size();
  out["sha256"] = sha256;
  if (c.tree.has_value()) {
    Json files = Json::MakeArray();
    for (const PackedEntry& e : c.tree->entries) {
      Json entry = Json::MakeObject();
      entry["path"] = e.path;
      if (e.link_target.empty()) {
        entry["size"] = e.size;
      } else {
        entry["link_target"] = e.link_target;
      }
      files.Append(std::move(entry));
    }
    out["files"] = std::move(files);
    Json skipped = Json::MakeArray();
    for (const std::string& s : c.tree->skipped) skipped.Append(s);
    out["skipped"] = std::move(skipped);
  }
  return out;
}

// What the server already holds under this version: OK to go on, an
// "already published" response, or a refusal (versions are immutable).
absl::StatusOr<std::optional<v1::ArtifactInfo>> ExistingVersion(
    AdminClient& client, const PublishFlags& f, const std::string& sha256) {
  v1::GetArtifactRequest req;
  req.set_app_id(f.app);
  req.mutable_module()->set_layer(LayerNames().at(f.layer));
  req.mutable_module()->set_name(f.module);
  req.set_version(f.version);
  absl::StatusOr<v1::ArtifactInfo> info = client.GetArtifact(req);
  if (!info.ok()) {
    // Not published yet, or a server without the call: the publish decides.
    if (info.status().code() == absl::StatusCode::kNotFound ||
        info.status().code() == absl::StatusCode::kUnimplemented) {
      return std::nullopt;
    }
    return info.status();
  }
  const std::string what = StrCat(f.layer, "/", f.module, "@", f.version);
  if (info->yanked_at_unix() != 0) {
    return absl::FailedPreconditionError(StrCat(
        what, " was yanked at ",
        TimeText(absl::FromUnixSeconds(info->yanked_at_unix())), " by ",
        info->yanked_by(), " (", info->yank_reason(),
        "); versions are immutable, so it cannot be published again: publish "
        "this content as a new --version"));
  }
  if (info->statement().content_sha256() != sha256) {
    return absl::AlreadyExistsError(StrCat(
        what, " is already published with other content (sha256 ",
        info->statement().content_sha256(), ", ", info->statement().size(),
        " bytes, at ",
        TimeText(absl::FromUnixSeconds(info->published_at_unix())),
        info->published_by().empty() ? ""
                                     : StrCat(" by ", info->published_by()),
        "); versions are immutable: publish this content as a new --version"));
  }
  return info;
}

// The module's schema, compiled; nullopt when it has none (or the server
// predates schemas).
absl::StatusOr<std::optional<JsonSchema>> SchemaOf(AdminClient& client,
                                                   const PublishFlags& f) {
  v1::GetModuleSchemaRequest req;
  req.set_app_id(f.app);
  req.mutable_module()->set_layer(v1::LAYER_CONFIG);
  req.mutable_module()->set_name(f.module);
  absl::StatusOr<v1::ModuleSchema> stored = client.GetModuleSchema(req);
  if (!stored.ok()) {
    if (stored.status().code() == absl::StatusCode::kUnimplemented) {
      return std::nullopt;
    }
    return stored.status();
  }
  if (stored->schema().empty()) return std::nullopt;
  absl::StatusOr<JsonSchema> schema = JsonSchema::Parse(stored->schema());
  if (!schema.ok()) {
    return absl::DataLossError(
        StrCat("the stored schema of ", f.module,
               " does not parse: ", ToStd(schema.status().message())));
  }
  return *std::move(schema);
}

// On an app with a root of trust: the layer role with one more target for
// this content, as its next version, signed by the --key keys. "" when the
// role already lists this very content (a repeated publish).
struct RoleForPublish {
  std::string bytes;
  std::string target;    // "h5/mall-home@3"
  uint64_t version = 0;  // of the role
  std::string existing;  // the target already listing this content
};

absl::StatusOr<RoleForPublish> NextRole(
    const PublishFlags& f, const AppTrust& trust, std::string_view content,
    const std::string& sha256,
    const std::vector<const signing::PrivateKey*>& signers) {
  signing::TargetsMetadata role = trust.Role(f.layer);
  RoleForPublish out;
  out.existing =
      FindTargetFor(role, f.module, f.version, sha256, content.size());
  if (!out.existing.empty()) return out;
  for (const auto& [name, file] : role.targets) {
    if (file.artifact.has_value() && file.artifact->module == f.module &&
        file.artifact->version_label == f.version) {
      auto hash = file.hashes.find("sha256");
      return absl::AlreadyExistsError(StrCat(
          f.layer, "/", f.module, " version ", f.version,
          " is already published with other content (sha256 ",
          hash == file.hashes.end() ? "?" : hash->second, ", target ", name,
          "); versions are immutable: publish this content as a new "
          "--version"));
    }
  }
  signing::ArtifactInfo info;
  info.app_id = f.app;
  info.layer = *signing::ParseLayer(f.layer);
  info.module = f.module;
  info.release_counter = HighestCounter(role, f.module) + 1;
  info.version_label = f.version;
  info.compat.host_build = f.host_build;
  out.target = signing::TargetName(info.layer, f.module, info.release_counter);
  role.targets[out.target] = signing::TargetFileFor(content, info);
  if (Json d = DeliveryCustom(f); !d.is_null()) {
    role.targets[out.target].extra_custom["delivery"] = std::move(d);
  }
  out.version = role.common.version + 1;
  STRATA_ASSIGN_OR_RETURN(
      out.bytes,
      SignNextVersion(std::move(role), absl::Now(), kDefaultRoleDays, signers));
  return out;
}

absl::Status DoPublish(const PublishFlags& f, CliContext& ctx) {
  // A directory is published as a deterministic ustar archive of its tree.
  STRATA_ASSIGN_OR_RETURN(Content read, ReadContent(f));
  const std::string* content = &read.bytes;
  const v1::Layer layer = LayerNames().at(f.layer);
  const std::string artifact = StrCat(f.layer, "/", f.module, "@", f.version);
  if (read.tree.has_value() && !f.quiet && !ctx.json()) {
    std::cout << TreeListing(f.dir, *read.tree, content->size());
  }
  std::vector<std::string> notes;
  STRATA_RETURN_IF_ERROR(
      CheckContent(layer, artifact, *content, f.allow_empty, nullptr, &notes));
  if (!ctx.json()) {
    for (const std::string& note : notes) {
      std::cerr << "strata: note: " << note << "\n";
    }
  }
  if (f.dry_run) {
    const std::string sha256 = Sha256::HexHash(*content);
    ctx.Print(DryRunJson(f, read, sha256),
              StrCat("dry run: ", artifact, " would be ", content->size(),
                     " bytes, sha256 ", sha256,
                     "; nothing was signed or sent (the server's checks -- "
                     "schema, version taken, signatures -- did not run)\n"));
    return absl::OkStatus();
  }
  STRATA_ASSIGN_OR_RETURN(std::vector<signing::PrivateKey> keys,
                          LoadKeyFiles(f.keys, "--key"));
  v1::ArtifactStatement st;
  st.set_app_id(f.app);
  st.mutable_module()->set_layer(LayerNames().at(f.layer));
  st.mutable_module()->set_name(f.module);
  st.set_version(f.version);
  st.mutable_compatibility()->set_host_build(f.host_build);
  *st.mutable_delivery() = DeliveryOf(f);
  // Sign the statement here: private keys never leave this machine.
  const std::string sha256 = Sha256::HexHash(*content);
  st.set_content_sha256(sha256);
  st.set_size(content->size());
  std::vector<v1::Signature> signatures;
  for (const signing::PrivateKey& key : keys) {
    STRATA_ASSIGN_OR_RETURN(std::string sig,
                            key.Sign(StatementSigningBytes(st)));
    v1::Signature& s = signatures.emplace_back();
    s.set_key_id(key.KeyId());
    s.set_signature(sig);
  }
  AdminClient client = ctx.Client();
  // Versions are immutable: a taken version is refused here, before the
  // upload; the same content again is a no-op.
  STRATA_ASSIGN_OR_RETURN(std::optional<v1::ArtifactInfo> existing,
                          ExistingVersion(client, f, sha256));
  if (existing.has_value()) {
    v1::PublishResponse result;
    *result.mutable_statement() = existing->statement();
    result.set_already_existed(true);
    ctx.Print(result,
              StrCat("already published: ", f.layer, "/", f.module, " ",
                     f.version, " (sha256 ", sha256, "); nothing was sent\n"));
    return absl::OkStatus();
  }
  if (layer == v1::LAYER_CONFIG && !content->empty()) {
    STRATA_ASSIGN_OR_RETURN(std::optional<JsonSchema> schema,
                            SchemaOf(client, f));
    if (schema.has_value()) {
      STRATA_RETURN_IF_ERROR(CheckContent(layer, artifact, *content,
                                          f.allow_empty, &*schema, nullptr));
    }
  }
  // An app with a root of trust takes a publish only with its layer role
  // re-signed by the layer's publishers: checked here before uploading.
  STRATA_ASSIGN_OR_RETURN(AppTrust trust, ReadAppTrustIfAny(client, f.app));
  std::vector<const signing::PrivateKey*> signers;
  if (trust.configured()) {
    if (keys.empty()) {
      return absl::InvalidArgumentError(StrCat(
          "app ", f.app, " has a root of trust: sign the publish with --key ",
          "FILE, the ", f.layer, " publisher key",
          f.layer == "hotpatch" || f.layer == "native"
              ? " (twice: --key A --key B, both publishers)"
              : "",
          ", e.g. --key ~/", f.app, "-keys/publisher-a.key"));
    }
    if (f.layer == "hotpatch" && f.host_build.empty()) {
      return absl::InvalidArgumentError(
          "a hotpatch needs --host-build: the one host build it applies to");
    }
    STRATA_ASSIGN_OR_RETURN(
        signers, SigningKeysFor(trust.targets, f.layer, keys, "--key"));
  }
  // A progress bar only for a person watching: stderr is a terminal and the
  // output is text. Redrawn at most every 100 ms, and once at the end.
  const bool show_progress =
      !ctx.json() && ::isatty(STDERR_FILENO) && content->size() > (256u << 10);
  absl::Time start = absl::Now();
  absl::Time last_draw = absl::InfinitePast();
  ProgressFn progress;
  if (show_progress) {
    progress = [&](uint64_t done, uint64_t total) {
      const absl::Time now = absl::Now();
      if (done < total && now - last_draw < absl::Milliseconds(100)) return;
      last_draw = now;
      std::cerr << "\r" << ProgressLine(done, total, now - start) << "\x1b[K"
                << (done == total ? "\n" : "") << std::flush;
    };
  }
  const std::string idempotency_key =
      f.idempotency_key.empty() ? StrCat(f.app, "/", f.module, "/", f.version)
                                : f.idempotency_key;
  const std::string what = StrCat(f.layer, "/", f.module, " ", f.version);
  if (!trust.configured()) {
    STRATA_ASSIGN_OR_RETURN(
        v1::PublishResponse result,
        client.Publish(st, *content, idempotency_key, progress, signatures,
                       f.embedded, "", f.allow_empty));
    ctx.Print(
        result,
        StrCat(result.already_existed() ? "already published: " : "published: ",
               what, " (", result.statement().size(), " bytes, sha256 ",
               result.statement().content_sha256(), ")\n"));
    return absl::OkStatus();
  }
  // Compare-and-swap on the role: when another publish got there first
  // (ABORTED), read the role again, re-sign, send again.
  for (int attempt = 0;; ++attempt) {
    STRATA_ASSIGN_OR_RETURN(RoleForPublish role,
                            NextRole(f, trust, *content, sha256, signers));
    if (!role.existing.empty()) {
      // The role already lists this content: stratad stored it with the
      // role, so there is nothing to upload.
      v1::PublishResponse result;
      *result.mutable_statement() = st;
      result.set_already_existed(true);
      ctx.Print(result, StrCat("already published: ", what, " (target ",
                               role.existing, ", sha256 ", sha256, ")\n"));
      return absl::OkStatus();
    }
    start = absl::Now();
    absl::StatusOr<v1::PublishResponse> result =
        client.Publish(st, *content, idempotency_key, progress, signatures,
                       f.embedded, role.bytes, f.allow_empty);
    if (result.ok()) {
      ctx.Print(
          *result,
          StrCat(
              result->already_existed() ? "already published: " : "published: ",
              what, " (", result->statement().size(), " bytes, sha256 ",
              result->statement().content_sha256(), ") as target ", role.target,
              " in ", f.layer, " role v", role.version, "\n"));
      return absl::OkStatus();
    }
    if (result.status().code() != absl::StatusCode::kAborted ||
        attempt == kCasRetries) {
      return result.status();
    }
    if (!ctx.json()) {
      std::cerr << "strata: the " << f.layer
                << " role changed since it was read; signing again\n";
    }
    STRATA_ASSIGN_OR_RETURN(trust, ReadAppTrust(client, f.app));
  }
}

void RunPublish(const PublishFlags& f, CliContext& ctx) {
  absl::Status s = DoPublish(f, ctx);
  if (!s.ok()) ctx.Fail(s);
}

}  // namespace

void AddPublishCommand(CLI::App& app, CliContext& ctx) {
  auto flags = std::make_shared<PublishFlags>();
  CLI::App* cmd = app.add_subcommand(
      "publish",
      "Upload one version of a module (or a directory tree), signed here\n"
      "with the layer's publisher key(s): on an app with a root of trust the\n"
      "layer's role gets a target <layer>/<module>@<counter> (counter one\n"
      "above the module's highest) and is re-signed with the --key keys. On\n"
      "a terminal, a progress bar on stderr shows large uploads (never with\n"
      "--output json).\n\n"
      "Example:\n"
      "  strata publish --app wallet --layer config --module payment.limits "
      "\\\n"
      "      --version 3 --file limits.json --key "
      "~/strata-keys/publisher-a.key\n"
      "  strata publish --app wallet --layer h5 --module mall-home "
      "--version 12 \\\n"
      "      --dir dist/ --key ~/strata-keys/publisher-a.key\n"
      "  strata publish --app wallet --layer h5 --module mall-home "
      "--version 12 \\\n"
      "      --dir dist/ --dry-run      # list what would be packed\n"
      "Publishing the same version with the same content again is a no-op;\n"
      "with different content, or after a yank, it is refused (versions are\n"
      "immutable). --dir skips dot files (.git, .DS_Store, ...), CVS,\n"
      "_darcs, Thumbs.db and what .strataignore at the tree's root lists\n"
      "(gitignore-like globs; `!pattern` includes again); symlinks inside\n"
      "the tree are packed as symlinks, one that leaves it is refused; the\n"
      "packed files are listed (--quiet: not). Content is checked first:\n"
      "not empty (--allow-empty), config is a JSON object matching the\n"
      "module's schema (`strata schema set`), at most 512 MiB.");
  AddAppOption(cmd, flags->app, ctx);
  cmd->add_option("--layer", flags->layer,
                  "config, h5, hcf, hotpatch or native")
      ->required()
      ->check(CLI::IsMember({"config", "h5", "hcf", "hotpatch", "native"}));
  cmd->add_option("--module", flags->module, "module name")->required();
  cmd->add_option("--version", flags->version,
                  "version label, e.g. 3 or 10.3.1")
      ->required();
  CLI::Option* file =
      cmd->add_option("--file", flags->file, "the content to upload");
  CLI::Option* dir = cmd->add_option(
      "--dir", flags->dir,
      "a directory tree to upload (H5 package, HCF module, bundle); unchanged "
      "files are stored once across versions");
  file->excludes(dir);
  dir->excludes(file);
  cmd->callback([flags, &ctx, file, dir] {
    if (file->count() + dir->count() != 1) {
      ctx.Fail(absl::InvalidArgumentError("give --file or --dir"));
      return;
    }
    RunPublish(*flags, ctx);
  });
  cmd->add_flag("--embedded", flags->embedded,
                "this is the content the app ships with: never released, used "
                "as a delta base for later versions");
  cmd->add_option("--host-build", flags->host_build,
                  "hotpatches: the one host build they apply to");
  cmd->add_option(
      "--key", flags->keys,
      "publisher private key to sign with (repeat for layers that need "
      "two signatures); required on an app with a root of trust");
  cmd->add_option("--idempotency-key", flags->idempotency_key,
                  "retry key (default: app/module/version)");
  cmd->add_flag("--on-demand", flags->on_demand,
                "devices download it on first use (OpenModule or a "
                "prefetch), not at check time");
  cmd->add_option("--network", flags->network,
                  "networks devices may download it on")
      ->check(CLI::IsMember({"any", "unmetered"}))
      ->capture_default_str();
  cmd->add_option("--install-mode", flags->install,
                  "when devices switch to it: the layer's point (default), "
                  "immediate, next_launch or next_resume")
      ->check(
          CLI::IsMember({"default", "immediate", "next_launch", "next_resume"}))
      ->capture_default_str();
  cmd->add_flag("--mandatory", flags->mandatory,
                "devices list it as mandatory until it is active");
  cmd->add_flag("--dry-run", flags->dry_run,
                "read or pack the content, list it and run the local checks; "
                "sign and send nothing (needs no server)");
  cmd->add_flag("--quiet,-q", flags->quiet,
                "do not list the files packed from --dir");
  cmd->add_flag("--allow-empty", flags->allow_empty,
                "accept empty content (a 0-byte file, a tree with no files); "
                "refused otherwise");
}

}  // namespace strata::admin
