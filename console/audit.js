// The audit log's hash chain, checked in the page as `strata audit` checks
// it (proto/src/audit_chain.cc): SHA-256 over "strata-audit-v1," and each
// field as "<byte length>:<bytes>,".
const enc = new TextEncoder();

async function entryHash(e) {
  const parts = [String(e.seq), String(e.atUnix), e.actor, e.action, e.appId, e.detail, e.prevHash];
  let text = 'strata-audit-v1,';
  for (const p of parts) text += `${enc.encode(p).length}:${p},`;
  const digest = await crypto.subtle.digest('SHA-256', enc.encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

// {ok: true} or {ok: false, why}: `entries` must follow entry `seq` - 1,
// whose hash is `prev` (seq 1 and '' for the whole log).
export async function verifyChain(entries, seq = 1, prev = '') {
  if (!globalThis.crypto || !crypto.subtle) {
    return {ok: false, why: 'this page is not a secure context (use https or localhost), so it cannot hash; run `strata audit verify`'};
  }
  for (const e of entries) {
    if (Number(e.seq) !== seq) return {ok: false, why: `entry ${seq} is missing (found ${e.seq})`};
    if ((e.prevHash || '') !== prev) return {ok: false, why: `entry ${seq} does not chain to the entry before it`};
    if (await entryHash(e) !== e.hash) return {ok: false, why: `entry ${seq} (${e.action}) was altered: its hash does not match`};
    prev = e.hash;
    seq++;
  }
  return {ok: true};
}
