// Verifies a repository Strata produced with the tuf-js client.
// usage: node tufjs_verify.js <repo_dir> <work_dir> <target>...
//   <repo_dir>/metadata: TUF metadata files (1.root.json, timestamp.json, ...)
//   <repo_dir>/targets:  target files under their consistent-snapshot names
// Prints one JSON line {"ok":true,"targets":{name:{length,sha256,custom}}}
// or {"ok":false,"error":"..."} and exits non-zero on failure.
'use strict';
const fs = require('fs');
const path = require('path');
const { Updater } = require('tuf-js');
const { BASE, DirFetcher, sha256 } = require('./common');

async function main() {
  const [repoDir, workDir, ...targets] = process.argv.slice(2);
  const metadataDir = path.join(workDir, 'metadata');
  const downloadDir = path.join(workDir, 'downloads');
  fs.mkdirSync(metadataDir, { recursive: true });
  fs.mkdirSync(downloadDir, { recursive: true });
  // The trust anchor, as an app would ship it.
  fs.copyFileSync(path.join(repoDir, 'metadata', '1.root.json'),
                  path.join(metadataDir, 'root.json'));
  const updater = new Updater({
    metadataDir,
    metadataBaseUrl: BASE + 'metadata/',
    targetDir: downloadDir,
    targetBaseUrl: BASE + 'targets/',
    fetcher: new DirFetcher(path.resolve(repoDir)),
  });
  await updater.refresh();
  const out = {};
  for (const name of targets) {
    const info = await updater.getTargetInfo(name);
    if (!info) throw new Error(`target ${name} not found through the delegations`);
    const file = await updater.downloadTarget(info);
    const bytes = fs.readFileSync(file);
    out[name] = { length: bytes.length, sha256: sha256(bytes), custom: info.custom };
  }
  console.log(JSON.stringify({ ok: true, targets: out }));
}

main().catch((e) => {
  console.log(JSON.stringify({ ok: false, error: `${e.name}: ${e.message}` }));
  process.exit(1);
});
