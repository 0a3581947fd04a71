// An unmodified tuf-js Updater against a live TUF repository over HTTP
// (stratad's /v1/tuf/<app>/ layout): walks the root chain from the pinned
// root, verifies timestamp, snapshot, targets and the delegated layer roles,
// then downloads and verifies each named target.
// usage: node tufjs_http_update.js <pinned_root.json> <metadata_url>
//            <targets_url> <work_dir> <target>...
// Prints one JSON line {"ok":true,"targets":{name:{length,sha256,custom}}}
// or {"ok":false,"error":"..."} and exits non-zero on failure.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { Updater } = require('tuf-js');

async function main() {
  const [rootFile, metadataBaseUrl, targetBaseUrl, workDir, ...targets] =
    process.argv.slice(2);
  const metadataDir = path.join(workDir, 'metadata');
  const targetDir = path.join(workDir, 'targets');
  fs.mkdirSync(metadataDir, { recursive: true });
  fs.mkdirSync(targetDir, { recursive: true });
  fs.copyFileSync(rootFile, path.join(metadataDir, 'root.json'));
  const updater = new Updater({ metadataDir, metadataBaseUrl, targetDir, targetBaseUrl });
  await updater.refresh();
  const out = {};
  for (const name of targets) {
    const info = await updater.getTargetInfo(name);
    if (!info) throw new Error(`target ${name} not found through the delegations`);
    const file = await updater.downloadTarget(info, path.join(targetDir, encodeURIComponent(name)));
    const bytes = fs.readFileSync(file);
    out[name] = {
      length: bytes.length,
      sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
      custom: info.custom,
    };
  }
  console.log(JSON.stringify({ ok: true, targets: out }));
}

main().catch((e) => {
  console.log(JSON.stringify({ ok: false, error: `${e.name}: ${e.message}` }));
  process.exit(1);
});
