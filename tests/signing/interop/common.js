// Shared helpers of the interop scripts (test-only).
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { BaseFetcher } = require('tuf-js');
const { DownloadHTTPError } = require('tuf-js/dist/error');
const { canonicalize } = require('@tufjs/canonical-json');
const { Readable } = require('stream');

const BASE = 'http://repo.invalid/';

// Serves "http://repo.invalid/<rel>" from files under `dir`; no network.
class DirFetcher extends BaseFetcher {
  constructor(dir) {
    super();
    this.dir = dir;
  }
  async fetch(url) {
    if (!url.startsWith(BASE)) throw new Error(`unexpected URL ${url}`);
    const rel = decodeURIComponent(url.slice(BASE.length));
    const file = path.join(this.dir, rel);
    if (!file.startsWith(this.dir) || !fs.existsSync(file)) {
      throw new DownloadHTTPError(`not found: ${rel}`, 404);
    }
    return Readable.from([fs.readFileSync(file)]);
  }
}

// An Ed25519 key as node crypto objects plus its TUF form and key id.
function newKey() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const der = publicKey.export({ format: 'der', type: 'spki' });
  const hex = der.subarray(der.length - 32).toString('hex');
  const tuf = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: hex } };
  const keyID = crypto.createHash('sha256').update(canonicalize(tuf)).digest('hex');
  return { privateKey, hex, tuf, keyID };
}

// The signer function Metadata.sign() expects.
function signer(key) {
  const { Signature } = require('@tufjs/models');
  return (data) =>
    new Signature({
      keyID: key.keyID,
      sig: crypto.sign(null, data, key.privateKey).toString('hex'),
    });
}

function sha256(bytes) {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

module.exports = { BASE, DirFetcher, newKey, signer, sha256, canonicalize };
