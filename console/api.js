// The Admin API as JSON (POST /api/v1/<Method>): the same service, tokens
// and roles as the strata CLI. The token lives in sessionStorage only.
export const session = {
  get token() { return sessionStorage.getItem('strata.token') || ''; },
  set token(t) { sessionStorage.setItem('strata.token', t); },
  get app() { return sessionStorage.getItem('strata.app') || ''; },
  set app(a) { sessionStorage.setItem('strata.app', a); },
  forget() { sessionStorage.removeItem('strata.token'); },
};

export class ApiError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

export async function call(method, request = {}) {
  const headers = {'Content-Type': 'application/json'};
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  const res = await fetch(`/api/v1/${method}`, {
    method: 'POST', headers, body: JSON.stringify(request),
    credentials: 'omit', cache: 'no-store',
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(body.code || `HTTP ${res.status}`, body.message || res.statusText);
  return body;
}

// The audit entries after `after`, page by page (ListAudit pages by
// after_seq).
export async function allAudit(maxPages = 1000, after = 0) {
  const out = [];
  for (let i = 0; i < maxPages; i++) {
    const page = await call('ListAudit', {afterSeq: String(after)});
    const entries = page.entries || [];
    if (entries.length === 0) break;
    out.push(...entries);
    after = Number(entries[entries.length - 1].seq);
  }
  return out;
}
