// Builds a repository with @tufjs/models (keys from node's crypto) for
// Strata's verifier: root (with a Strata director key under custom), targets
// delegating "hotpatch/*" to a role with threshold 2, snapshot, timestamp,
// a director file, and one hotpatch target; plus a rotated root v2.
// usage: node tufjs_make_repo.js <out_dir> <now_unix_seconds>
// Writes <out_dir>/metadata/*.json and <out_dir>/targets/<name>.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const {
  Metadata, Root, Targets, Snapshot, Timestamp, Key, MetaFile, TargetFile,
} = require('@tufjs/models');
const { Role, DelegatedRole } = require('@tufjs/models/dist/role');
const { Delegations } = require('@tufjs/models/dist/delegations');
const { newKey, signer, sha256, canonicalize } = require('./common');

const [outDir, nowArg] = process.argv.slice(2);
const now = Number(nowArg) * 1000;
const expires = new Date(now + 7 * 24 * 3600 * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
const metaDir = path.join(outDir, 'metadata');
const targetDir = path.join(outDir, 'targets');
fs.mkdirSync(metaDir, { recursive: true });
fs.mkdirSync(targetDir, { recursive: true });

const tufKey = (k) => new Key({ keyID: k.keyID, keyType: 'ed25519', scheme: 'ed25519', keyVal: { public: k.hex } });
const keys = {
  root: newKey(), root2: newKey(), targets: newKey(), snapshot: newKey(),
  timestamp: newKey(), director: newKey(), hot1: newKey(), hot2: newKey(),
};

function write(name, md) {
  const bytes = Buffer.from(JSON.stringify(md.toJSON()));
  fs.writeFileSync(path.join(metaDir, name), bytes);
  return bytes;
}
function metaFor(bytes, version) {
  return new MetaFile({ version, length: bytes.length, hashes: { sha256: sha256(bytes) } });
}

// root v1 and v2 (v2 replaces the root key; signed by both).
function makeRoot(version, rootKey) {
  const root = new Root({
    version, specVersion: '1.0.31', expires, consistentSnapshot: true,
    unrecognizedFields: {
      custom: { app: 'wallet', director: { keyids: [keys.director.keyID], threshold: 1 } },
    },
  });
  root.addKey(tufKey(rootKey), 'root');
  root.addKey(tufKey(keys.targets), 'targets');
  root.addKey(tufKey(keys.snapshot), 'snapshot');
  root.addKey(tufKey(keys.timestamp), 'timestamp');
  root.keys[keys.director.keyID] = tufKey(keys.director);
  return new Metadata(root);
}
const root1 = makeRoot(1, keys.root);
root1.sign(signer(keys.root));
write('1.root.json', root1);
const root2 = makeRoot(2, keys.root2);
root2.sign(signer(keys.root));
root2.sign(signer(keys.root2));
write('2.root.json', root2);

// The hotpatch artifact and its delegated role.
const content = Buffer.from('hotpatch made by @tufjs/models');
const name = 'hotpatch/core@3';
const target = new TargetFile({
  length: content.length, path: name, hashes: { sha256: sha256(content) },
  unrecognizedFields: {
    custom: {
      app: 'wallet', layer: 'hotpatch', module: 'core', release_counter: 3,
      compat: { host_build: '10.3.0+100', app_version: { min: '10.0.0' } },
    },
  },
});
fs.mkdirSync(path.join(targetDir, 'hotpatch'), { recursive: true });
fs.writeFileSync(path.join(targetDir, 'hotpatch', `${sha256(content)}.core@3`), content);

const hotpatch = new Metadata(new Targets({ version: 1, specVersion: '1.0.31', expires, targets: { [name]: target } }));
hotpatch.sign(signer(keys.hot1));
hotpatch.sign(signer(keys.hot2));
const hotBytes = write('1.hotpatch.json', hotpatch);

const delegations = new Delegations({
  keys: { [keys.hot1.keyID]: tufKey(keys.hot1), [keys.hot2.keyID]: tufKey(keys.hot2) },
  roles: {
    hotpatch: new DelegatedRole({
      name: 'hotpatch', keyIDs: [keys.hot1.keyID, keys.hot2.keyID], threshold: 2,
      terminating: true, paths: ['hotpatch/*'],
    }),
  },
});
const targets = new Metadata(new Targets({ version: 1, specVersion: '1.0.31', expires, delegations }));
targets.sign(signer(keys.targets));
const targetsBytes = write('1.targets.json', targets);

const snapshot = new Metadata(new Snapshot({
  version: 1, specVersion: '1.0.31', expires,
  meta: { 'targets.json': metaFor(targetsBytes, 1), 'hotpatch.json': metaFor(hotBytes, 1) },
}));
snapshot.sign(signer(keys.snapshot));
const snapBytes = write('1.snapshot.json', snapshot);

const timestamp = new Metadata(new Timestamp({
  version: 1, specVersion: '1.0.31', expires, snapshotMeta: metaFor(snapBytes, 1),
}));
timestamp.sign(signer(keys.timestamp));
write('timestamp.json', timestamp);

// The director is Strata-specific: plain JSON signed over its canonical form.
const director = {
  _type: 'director', spec_version: '1.0.31', version: 1, expires, app: 'wallet',
  assignments: [{
    modules: {
      'hotpatch/core': {
        target: name, length: content.length,
        hashes: { sha256: sha256(content) }, release_counter: 3,
      },
    },
  }],
};
const sig = crypto.sign(null, Buffer.from(canonicalize(director)), keys.director.privateKey);
fs.writeFileSync(path.join(metaDir, 'director.json'), JSON.stringify({
  signed: director, signatures: [{ keyid: keys.director.keyID, sig: sig.toString('hex') }],
}));
console.log(JSON.stringify({ ok: true, target: name }));
