// strata publish: upload one artifact version.
#include <unistd.h>

#include <iostream>
#include <memory>

#include "layer_flag.h"
#include "strata/admin_cli/admin_client.h"
#include "strata/admin_cli/cli_context.h"
#include "strata/admin_cli/render.h"
#include "strata/admin_cli/tree_archive.h"
#include "strata/base/env.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"
#include "strata/proto/statement_signing.h"
#include "strata/signing/keys.h"

namespace strata::admin {
namespace {

struct PublishFlags {
  std::string app, layer, module, version, file, host_build, idempotency_key;
  std::vector<std::string> keys;
  bool embedded = false;
  std::string dir;
};

void RunPublish(const PublishFlags& f, CliContext& ctx) {
  // A directory is published as a deterministic ustar archive of its tree.
  absl::StatusOr<std::string> content =
      f.dir.empty() ? PosixFileSystem()->ReadFile(f.file)
                    : ArchiveTree(*PosixFileSystem(), f.dir);
  if (!content.ok()) {
    ctx.Fail(absl::InvalidArgumentError(
        StrCat("cannot read ", f.dir.empty() ? "--file" : "--dir", ": ",
               ToStd(content.status().message()))));
    return;
  }
  v1::ArtifactStatement st;
  st.set_app_id(f.app);
  st.mutable_module()->set_layer(LayerNames().at(f.layer));
  st.mutable_module()->set_name(f.module);
  st.set_version(f.version);
  st.mutable_compatibility()->set_host_build(f.host_build);
  // Sign the statement here: private keys never leave this machine.
  st.set_content_sha256(Sha256::HexHash(*content));
  st.set_size(content->size());
  std::vector<v1::Signature> signatures;
  for (const std::string& path : f.keys) {
    absl::StatusOr<signing::PrivateKey> key =
        signing::LoadPrivateKey(*PosixFileSystem(), path);
    if (!key.ok()) {
      ctx.Fail(absl::InvalidArgumentError(StrCat(
          "cannot use --key ", path, ": ", ToStd(key.status().message()))));
      return;
    }
    absl::StatusOr<std::string> sig = key->Sign(StatementSigningBytes(st));
    if (!sig.ok()) {
      ctx.Fail(sig.status());
      return;
    }
    v1::Signature& s = signatures.emplace_back();
    s.set_key_id(key->KeyId());
    s.set_signature(*sig);
  }
  AdminClient client = ctx.Client();
  // A progress bar only for a person watching: stderr is a terminal and the
  // output is text. Redrawn at most every 100 ms, and once at the end.
  const bool show_progress =
      !ctx.json() && ::isatty(STDERR_FILENO) && content->size() > (256u << 10);
  const absl::Time start = absl::Now();
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
  auto result = client.Publish(
      st, *content,
      f.idempotency_key.empty() ? StrCat(f.app, "/", f.module, "/", f.version)
                                : f.idempotency_key,
      progress, signatures, f.embedded);
  if (!result.ok()) {
    ctx.Fail(result.status());
    return;
  }
  ctx.Print(*result, StrCat(result->already_existed() ? "already published: "
                                                      : "published: ",
                            f.layer, "/", f.module, " ", f.version, " (",
                            result->statement().size(), " bytes, sha256 ",
                            result->statement().content_sha256(), ")\n"));
}

}  // namespace

void AddPublishCommand(CLI::App& app, CliContext& ctx) {
  auto flags = std::make_shared<PublishFlags>();
  CLI::App* cmd = app.add_subcommand(
      "publish",
      "Upload one version of a module (or a directory tree), signed here\n"
      "with the layer's publisher key(s). On a terminal, a progress bar on\n"
      "stderr shows large uploads (never with --output json).\n\n"
      "Example:\n"
      "  strata publish --app wallet --layer config --module payment.limits "
      "\\\n"
      "      --version 3 --file limits.json --key "
      "~/strata-keys/publisher-a.key\n"
      "  strata publish --app wallet --layer h5 --module mall-home "
      "--version 12 \\\n"
      "      --dir dist/ --key ~/strata-keys/publisher-a.key\n"
      "Publishing the same version with the same content again is a no-op;\n"
      "with different content it is refused (versions are immutable).");
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
      "two signatures)");
  cmd->add_option("--idempotency-key", flags->idempotency_key,
                  "retry key (default: app/module/version)");
}

}  // namespace strata::admin
