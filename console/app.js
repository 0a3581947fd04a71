// The release console: a hash-routed page over the Admin API (api.js).
// Views: #/releases, #/release/<id>, #/artifacts, #/device, #/audit,
// #/failures, #/failure/<signature id>. The open view refreshes itself
// every POLL_MS (the failures pages every FAILURES_POLL_MS), so a
// running release updates without a reload.
import {call, allAudit, session} from './api.js';
import {verifyChain} from './audit.js';
import {loadCharts, lineChart} from './charts.js';

const POLL_MS = 1500;
const $ = (id) => document.getElementById(id);

// h('td', {class: 'num'}, 'text', node...)
function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  el.append(...kids.flat().filter((k) => k !== undefined && k !== null).map((k) => (k instanceof Node ? k : String(k))));
  return el;
}
function table(caption, headers, rows) {
  return h('table', {}, h('caption', {}, caption),
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', {scope: 'col'}, x)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => (c instanceof Node && c.tagName === 'TD' ? c : h('td', {}, c)))))));
}
const num = (x) => h('td', {class: 'num'}, x);
const pct = (bp) => `${(Number(bp) / 100).toFixed(Number(bp) % 100 ? 2 : 0)}%`;
const when = (unix) => (Number(unix) ? new Date(Number(unix) * 1000).toISOString().replace('.000Z', 'Z') : '');
const stateText = (s) => (s || '').replace('RELEASE_', '');
const moduleName = (m) => (m ? `${(m.layer || '').replace('LAYER_', '').toLowerCase()}/${m.name}` : '');
function showError(where, e) {
  where.replaceChildren(h('span', {class: 'error', role: 'alert'}, e.message || String(e)));
}

// 95% Wilson interval for k of n.
function wilson(k, n) {
  if (!n) return null;
  const z = 1.96, p = k / n, d = 1 + (z * z) / n;
  const c = (p + (z * z) / (2 * n)) / d;
  const w = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [Math.max(0, c - w), Math.min(1, c + w)];
}
const rate = (x) => `${(100 * x).toFixed(2)}%`;
function rateCell(k, n) {
  if (!n) return 'no data';
  const ci = wilson(k, n);
  return `${rate(k / n)} (${k} of ${n}; 95% CI ${rate(ci[0])}–${rate(ci[1])})`;
}
function compare(tk, tn, ck, cn) {
  if (!tn || !cn) return 'not enough data';
  const t = wilson(tk, tn), c = wilson(ck, cn);
  if (t[0] > c[1]) return '▲ above control';
  if (t[1] < c[0]) return '▼ below control';
  return '≈ within the control\'s range';
}

// ---- views
let refreshTimer = null;
let currentRefresh = null;

async function releasesView(view) {
  view.replaceChildren(h('h2', {}, `Releases of ${session.app}`), h('div', {id: 'releases'}));
  return async () => {
    const {releases = []} = await call('ListReleases', {appId: session.app});
    const rows = releases.slice().reverse().map((r) => {
      const stage = r.stages && r.stages.length ? `stage ${r.stage + 1} of ${r.stages.length}` : 'all at once';
      return [h('td', {}, h('a', {href: `#/release/${r.releaseId}`}, `Release ${r.releaseId}`)),
        h('td', {}, h('span', {class: `state ${r.state}`}, stateText(r.state))),
        (r.artifacts || []).map((a) => `${moduleName(a.module)}@${a.version}`).join(', '),
        r.segment || 'everyone', stage, r.message || '', when(r.createdAtUnix)];
    });
    $('releases').replaceChildren(table('Newest first', ['Release', 'State', 'Modules', 'Segment', 'Stage', 'Message', 'Created'], rows));
  };
}

// The actions and the states they apply to (rollout/src/rollout.cc); the
// server still decides, by role and state.
const STEERS = [
  ['START', 'Start', ['RELEASE_DRAFT']],
  ['PAUSE', 'Pause', ['RELEASE_ROLLING']],
  ['RESUME', 'Resume', ['RELEASE_PAUSED', 'RELEASE_HALTED']],
  ['PROMOTE', 'Promote', ['RELEASE_ROLLING']],
  ['HALT', 'Halt', ['RELEASE_ROLLING', 'RELEASE_PAUSED']],
  ['ROLL_BACK', 'Roll back', ['RELEASE_ROLLING', 'RELEASE_PAUSED', 'RELEASE_HALTED', 'RELEASE_COMPLETED']],
];

function confirmDialog(text) {
  const dlg = $('confirm');
  $('confirm-text').textContent = text;
  $('confirm-reason').value = '';
  dlg.returnValue = '';
  dlg.showModal();
  $('confirm-cancel').focus();
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok' ? $('confirm-reason').value : null), {once: true});
  });
}

async function steer(id, action, label) {
  const out = $('steer-result');
  let text = `${label} release ${id} of app ${session.app}? This is recorded in the audit log under your token's name.`;
  if (action === 'ROLL_BACK') {
    // What it would put back: the server's dry run, nothing changed.
    try {
      const dry = await call('SteerRelease', {appId: session.app, releaseId: String(id), action, dryRun: true});
      text += `\nIt puts back:${(dry.rollbackPlan || []).map((p) => `\n• ${moduleName(p.module)} ${p.version} (${p.why})`).join('')}`;
    } catch (e) {
      text += `\nThe server's dry run refused: ${e.message}`;
    }
  }
  const reason = await confirmDialog(text);
  if (reason === null) { out.textContent = `${label} cancelled; nothing was sent.`; return; }
  out.textContent = `${label}: sending…`;
  try {
    await call('SteerRelease', {appId: session.app, releaseId: String(id), action, reason: reason || `${label.toLowerCase()} from the console`});
    const st = await call('GetReleaseStatus', {appId: session.app, releaseId: String(id)});
    const last = (st.history || [])[st.history.length - 1];
    out.replaceChildren(h('span', {class: 'good'}, `✔ ${label} done. `),
      last ? h('span', {id: 'steer-audit'}, `Audit entry #${last.seq}: ${last.actor} ${last.action} — ${last.detail}`) : '');
    if (currentRefresh) await currentRefresh();
  } catch (e) {
    showError(out, e);
  }
}

function cohortRows(t, c) {
  const n = (x) => Number(x || 0);
  const tl = n(t.launchesOk) + n(t.launchCrashes), cl = n(c.launchesOk) + n(c.launchCrashes);
  const ta = n(t.applied) + n(t.applyFailed), ca = n(c.applied) + n(c.applyFailed);
  return [
    ['Crash rate (of launches)', rateCell(n(t.launchCrashes), tl), rateCell(n(c.launchCrashes), cl), compare(n(t.launchCrashes), tl, n(c.launchCrashes), cl)],
    ['Apply failure rate (of attempts)', rateCell(n(t.applyFailed), ta), rateCell(n(c.applyFailed), ca), compare(n(t.applyFailed), ta, n(c.applyFailed), ca)],
    ['Launches: ok / crashed', `${n(t.launchesOk)} / ${n(t.launchCrashes)}`, `${n(c.launchesOk)} / ${n(c.launchCrashes)}`, ''],
    ['Downloaded / applied / activated', `${n(t.downloaded)} / ${n(t.applied)} / ${n(t.activated)}`, `${n(c.downloaded)} / ${n(c.applied)} / ${n(c.activated)}`, ''],
    ['Rolled back by launch guard', n(t.rolledBack), n(c.rolledBack), ''],
    ['Rejected / integrity failures', `${n(t.rejected)} / ${n(t.integrityFailures)}`, `${n(c.rejected)} / ${n(c.integrityFailures)}`, ''],
  ];
}

async function releaseView(view, id) {
  const hasCharts = await loadCharts();
  view.replaceChildren(
    h('p', {}, h('a', {href: '#/releases'}, '← all releases')),
    h('h2', {id: 'release-title'}, `Release ${id}`),
    h('p', {id: 'release-summary', 'aria-live': 'polite'}),
    h('section', {'aria-labelledby': 'steer-h'}, h('h3', {id: 'steer-h'}, 'Steer'),
      h('div', {class: 'steer'}, STEERS.map(([a, label]) =>
        h('button', {type: 'button', 'data-action': a, class: a === 'HALT' || a === 'ROLL_BACK' ? 'danger' : '', onclick: () => steer(id, a, label)}, label))),
      h('p', {id: 'steer-available', class: 'muted'}),
      h('p', {id: 'steer-result', role: 'status'})),
    h('section', {}, h('h3', {}, 'Gates'), h('div', {id: 'gates'})),
    h('section', {}, h('h3', {}, 'Stages'), h('div', {id: 'stages'})),
    h('section', {}, h('h3', {}, 'Treatment vs control'), h('div', {id: 'cohorts'})),
    h('section', {}, h('h3', {}, 'Crash rate over time (since this page opened)'), h('p', {id: 'rates-text'}), h('div', {id: 'rates-chart', class: 'chart', role: 'img', 'aria-labelledby': 'rates-text'})),
    h('section', {}, h('h3', {}, 'Adoption over time'), h('p', {id: 'adoption-text'}), h('div', {id: 'adoption-chart', class: 'chart', role: 'img', 'aria-labelledby': 'adoption-text'})),
    h('section', {}, h('h3', {}, 'Versions on devices (launch outcomes by version)'), h('div', {id: 'fleet'})),
    h('section', {}, h('h3', {}, 'Per device (launch outcomes and download sizes)'), h('div', {id: 'distribution'})),
    h('section', {}, h('h3', {}, 'Who gets it'), h('div', {id: 'preview'})),
    h('section', {}, h('h3', {}, 'History (this release\'s audit entries)'), h('div', {id: 'history'})),
  );
  if (!hasCharts) $('adoption-chart').textContent = 'Charts are unavailable in this build (uPlot was not installed when stratad was built).';
  let chartKey = '';
  let distributionAt = 0;  // GetReleaseDistribution reads every stored report: every 10 s at most
  const rates = [];  // {t, k, n, ck, cn}: the cohorts' launch counts at each refresh
  call('PreviewRelease', {appId: session.app, releaseId: String(id)}).then((p) => {
    const reach = (p.stages || []).map((s) => [pct(s.exposureBp), num(s.treatment), num(s.control)]);
    $('preview').replaceChildren(
      h('p', {}, `${p.devices} devices seen recently; segment "${p.segment || 'everyone'}" matches ${p.matched}, not ${p.notMatched}. Now: ${p.current ? `${p.current.treatment} treatment, ${p.current.control} control` : '—'}.`),
      table('Reach at each stage', ['Exposure', 'Treatment devices', 'Control devices'], reach),
      p.verdict ? h('p', {class: 'muted'}, p.verdict) : '');
  }).catch((e) => showError($('preview'), e));

  return async () => {
    const st = await call('GetReleaseStatus', {appId: session.app, releaseId: String(id)});
    const r = st.release || {};
    const stages = r.stages || [];
    $('release-title').replaceChildren(`Release ${id} `, h('span', {class: `state ${r.state}`, id: 'release-state'}, stateText(r.state)));
    $('release-summary').replaceChildren(
      `Exposure ${pct(st.exposureBp)}` + (stages.length ? `, stage ${r.stage + 1} of ${stages.length}` : ''),
      ` · segment ${r.segment || 'everyone'} · ${(r.artifacts || []).map((a) => `${moduleName(a.module)}@${a.version}`).join(', ')}`,
      r.stateReason ? h('span', {class: 'muted'}, ` · ${r.stateReason}`) : '');
    const available = STEERS.filter(([, , states]) => states.includes(r.state));
    for (const [a, , states] of STEERS) {
      document.querySelector(`button[data-action=${a}]`).disabled = !states.includes(r.state);
    }
    $('steer-available').textContent = available.length
      ? `For a ${stateText(r.state)} release: ${available.map(([, label]) => label).join(', ')}. Your token's role decides whether the server carries it out.`
      : `A ${stateText(r.state)} release cannot be steered.`;
    $('release-summary').dataset.exposureBp = st.exposureBp;
    $('release-summary').dataset.stage = r.stage;
    $('release-summary').dataset.state = r.state;
    $('gates').replaceChildren(h('p', {id: 'gate-verdict'}, h('strong', {}, (st.gateAction || 'no verdict yet').toUpperCase()),
      st.gateRule ? ` (rule ${st.gateRule})` : '', st.gateReason ? `: ${st.gateReason}` : ''));
    $('stages').replaceChildren(table('The plan; the current stage is marked', ['#', 'Exposure', 'Bake', 'Min reports', 'Status'],
      stages.map((s, i) => [String(i + 1), pct(s.exposureBp), `${s.bakeSeconds}s`, String(s.minReports),
        i < r.stage || r.state === 'RELEASE_COMPLETED' ? 'done' : i === r.stage ? `current (since ${new Date(Number(r.stageStartedAtMs)).toISOString()})` : 'pending'])));
    $('cohorts').replaceChildren(table('Whole release; ▲/▼ when the 95% intervals do not overlap', ['Measure', 'Treatment', 'Control', 'Treatment vs control'],
      cohortRows(st.treatment || {}, st.control || {})));
    const t = st.treatment || {}, c = st.control || {};
    const k = Number(t.launchCrashes || 0), n = k + Number(t.launchesOk || 0);
    const ck = Number(c.launchCrashes || 0), cn = ck + Number(c.launchesOk || 0);
    const prev = rates[rates.length - 1];
    if (!prev || prev.n !== n || prev.cn !== cn) {
      rates.push({t: Date.now() / 1000, k, n, ck, cn});
      if (rates.length > 600) rates.shift();
      const pctOf = (x, y) => (y ? (100 * x) / y : null);
      const bound = (x, y, i) => { const w = wilson(x, y); return w ? 100 * w[i] : null; };
      $('rates-text').textContent = `Treatment ${rateCell(k, n)}; control ${rateCell(ck, cn)}: ${compare(k, n, ck, cn)}. ${rates.length} point${rates.length === 1 ? '' : 's'}, one per change of the counts.`;
      if (hasCharts && rates.length > 1) {
        lineChart($('rates-chart'), 'Crash rate %: treatment (blue) and control (orange); dotted: 95% bounds',
          rates.map((r) => r.t), [
            {label: 'treatment', values: rates.map((r) => pctOf(r.k, r.n)), stroke: '#1f5fbf', dash: []},
            {label: 'treatment 95% low', values: rates.map((r) => bound(r.k, r.n, 0)), stroke: '#1f5fbf', dash: [2, 3], width: 1},
            {label: 'treatment 95% high', values: rates.map((r) => bound(r.k, r.n, 1)), stroke: '#1f5fbf', dash: [2, 3], width: 1},
            {label: 'control', values: rates.map((r) => pctOf(r.ck, r.cn)), stroke: '#b35900', dash: [6, 4]},
            {label: 'control 95% low', values: rates.map((r) => bound(r.ck, r.cn, 0)), stroke: '#b35900', dash: [2, 3], width: 1},
            {label: 'control 95% high', values: rates.map((r) => bound(r.ck, r.cn, 1)), stroke: '#b35900', dash: [2, 3], width: 1},
          ]);
      }
    }
    const samples = st.adoption || [];
    const last = samples[samples.length - 1];
    $('adoption-text').textContent = last
      ? `${samples.length} samples; now ${last.devices} devices activated at ${pct(last.exposureBp)} exposure.`
      : 'No adoption samples yet.';
    const key = samples.map((s) => s.atMs).join();
    if (hasCharts && samples.length && key !== chartKey) {
      chartKey = key;
      lineChart($('adoption-chart'), 'Devices activated (solid) and exposure % (dashed)',
        samples.map((s) => Number(s.atMs) / 1000),
        [{label: 'devices', values: samples.map((s) => Number(s.devices))},
          {label: 'exposure %', values: samples.map((s) => Number(s.exposureBp) / 100), scale: 'pct'}]);
    }
    $('history').replaceChildren(table('Oldest first', ['#', 'When', 'Who', 'Action', 'Detail'],
      (st.history || []).map((e) => [String(e.seq), when(e.atUnix), e.actor, e.action, e.detail])));
    const mods = new Set((r.artifacts || []).map((a) => moduleName(a.module)));
    const fleet = await call('GetFleet', {appId: session.app});
    const rows = [];
    for (const m of fleet.modules || []) {
      if (!mods.has(moduleName(m.module))) continue;
      for (const v of m.versions || []) {
        const share = Number(m.devices) ? `${((100 * Number(v.devices)) / Number(m.devices)).toFixed(0)}%` : '';
        rows.push([moduleName(m.module), v.version, num(`${v.devices} (${share})`), num(v.launchesOk), num(v.launchCrashes), num(v.rolledBack),
          v.releaseId && v.releaseId !== '0' ? `release ${v.releaseId}` : '']);
      }
    }
    $('fleet').replaceChildren(table(`${fleet.devices} devices remembered`, ['Module', 'Version', 'Devices', 'Launches ok', 'Crashes', 'Rolled back', 'From'], rows));
    if (Date.now() - distributionAt >= 10000) {
      distributionAt = Date.now();
      showDistribution(await call('GetReleaseDistribution', {appId: session.app, releaseId: String(id)}));
    }
  };
}

const bytesText = (b) => (b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(1)} MiB` : b >= 1024 ? `${(b / 1024).toFixed(1)} KiB` : `${b} B`);

// GetReleaseDistribution: how the figures spread over the devices.
function showDistribution(d) {
  const [t = {}, c = {}] = d.cohorts || [];
  const rowsOf = (field) => (t[field] || []).map((b, i) => [b.label, num(b.devices), num(((c[field] || [])[i] || {}).devices || '0')]);
  const sizes = Number(d.downloadDevices)
    ? `${d.downloadDevices} treatment devices reported downloading it: median ${bytesText(Number(d.downloadBytesP50))}, 90th percentile ${bytesText(Number(d.downloadBytesP90))}, 99th ${bytesText(Number(d.downloadBytesP99))}, largest ${bytesText(Number(d.downloadBytesMax))}; ${bytesText(Number(d.downloadBytesTotal))} in all.`
    : 'No device has reported the bytes it downloaded for this release yet.';
  $('distribution').replaceChildren(
    h('p', {id: 'distribution-text'}, `Treatment: ${t.devices} devices, ${t.launches} launches, ${t.crashes} crashed; control: ${c.devices} devices, ${c.launches} launches, ${c.crashes} crashed (from ${d.reportsScanned} stored reports).`),
    table('Devices by launches reported', ['Launches per device', 'Treatment devices', 'Control devices'], rowsOf('launchesPerDevice')),
    table('Devices by the share of their launches that crashed', ['Crashed', 'Treatment devices', 'Control devices'], rowsOf('crashShare')),
    h('p', {id: 'download-text'}, sizes),
    (d.downloadBytes || []).length ? table('Treatment devices by bytes downloaded for the release', ['Bytes', 'Devices'], d.downloadBytes.map((b) => [b.label, num(b.devices)])) : '');
}

async function artifactsView(view) {
  view.replaceChildren(h('h2', {}, `Modules and versions of ${session.app}`), h('div', {id: 'artifacts'}));
  return async () => {
    const {artifacts = []} = await call('ListArtifacts', {appId: session.app});
    $('artifacts').replaceChildren(table('By layer, module and publish time', ['Layer', 'Module', 'Version', 'Size (bytes)', 'Signers (key ids)', 'Published', 'Releases'],
      artifacts.map((a) => {
        const s = a.statement || {};
        const m = s.module || {};
        return [(m.layer || '').replace('LAYER_', '').toLowerCase(), m.name, s.version + (a.embedded ? ' (embedded)' : '') + (Number(a.yankedAtUnix) ? ' (YANKED)' : ''),
          num(s.size), (a.signerKeyIds || []).join(', ') || 'unsigned', `${when(a.publishedAtUnix)} by ${a.publishedBy || '?'}`,
          (a.releases || []).map((x) => `${x.releaseId} ${stateText(x.state)}`).join(', ')];
      })));
  };
}

async function deviceView(view) {
  const input = h('input', {id: 'device-id', required: true, size: 24});
  const out = h('div', {id: 'explain'});
  const explain = async (ev) => {
    ev.preventDefault();
    try {
      const r = await call('ExplainDevice', {appId: session.app, deviceId: input.value});
      const d = r.device || {};
      out.replaceChildren(
        h('p', {}, `Device ${d.deviceId}: ${[d.os || '?', d.osVersion].filter(Boolean).join(' ')}, app ${d.appVersion || '?'}, last seen ${when(r.lastSeenUnix)}.`),
        table('What each release means for this device', ['Release', 'Applies', 'Cohort', 'Why', 'Takes', 'Loses'],
          (r.releases || []).map((x) => [`Release ${x.releaseId}`, x.applies ? 'yes' : 'no', x.cohort, (x.reasons || []).join('; '), (x.wins || []).join('; '), (x.loses || []).join('; ')])));
    } catch (e) { showError(out, e); }
  };
  view.replaceChildren(h('h2', {}, 'Explain one device'),
    h('form', {onsubmit: explain}, h('label', {}, 'Device id ', input), ' ', h('button', {type: 'submit'}, 'Explain')), out);
  return null;
}

async function auditView(view) {
  const search = h('input', {id: 'audit-search', type: 'search', size: 30});
  view.replaceChildren(h('h2', {}, 'Audit log'), h('p', {id: 'chain', role: 'status'}),
    h('label', {}, 'Search ', search), h('div', {id: 'audit'}));
  let entries = [];
  const render = () => {
    const q = search.value.toLowerCase();
    const shown = entries.filter((e) => !q || `${e.seq} ${e.actor} ${e.action} ${e.appId} ${e.detail}`.toLowerCase().includes(q));
    $('audit').replaceChildren(table(`${shown.length} of ${entries.length} entries, newest first`, ['#', 'When', 'Who', 'Action', 'App', 'Detail'],
      shown.slice().reverse().map((e) => [String(e.seq), when(e.atUnix), e.actor, e.action, e.appId, e.detail])));
  };
  search.addEventListener('input', render);
  // Only new entries are fetched and hashed on each refresh; the chain
  // check goes on from the last verified entry.
  let verdict = {ok: true};
  return async () => {
    const last = entries[entries.length - 1];
    const more = await allAudit(1000, last ? Number(last.seq) : 0);
    if (more.length && verdict.ok) {
      verdict = await verifyChain(more, entries.length + 1, last ? last.hash : '');
    }
    if (more.length || !$('chain').textContent) {
      entries = entries.concat(more);
      render();
    }
    $('chain').replaceChildren(verdict.ok ? h('span', {class: 'good', id: 'chain-ok'}, `✔ Chain verified: ${entries.length} entries, each hash checked in this page.`)
      : h('span', {class: 'bad', id: 'chain-bad'}, `✘ Chain NOT verified: ${verdict.why}`));
  };
}

// ---- failures (docs/remedies.md). Aggregated by the server from the
// stored reports at each call, so these pages refresh every FAILURES_POLL_MS.
const FAILURES_POLL_MS = 10000;
const kindText = (k) => (k || 'KIND_UNSPECIFIED').replace('KIND_', '').replace(/_/g, ' ').toLowerCase();
const sigModule = (s) => (s.module && s.module.name ? moduleName(s.module) : '—');
function ago(unix) {
  const s = Math.max(0, Math.round(Date.now() / 1000 - Number(unix)));
  if (!Number(unix)) return '';
  return s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : s < 172800 ? `${Math.round(s / 3600)} h ago` : `${Math.round(s / 86400)} days ago`;
}
const seen = (unix) => (Number(unix) ? `${when(unix)} (${ago(unix)})` : '');
function remediesTable(remedies, caption = 'Remedies devices applied (REMEDY_APPLIED reports)') {
  if (!remedies.length) return h('p', {}, 'No device has reported applying a remedy.');
  return table(caption,
    ['Remedy', 'Action', 'Module', 'Devices', 'First applied', 'Last applied'],
    remedies.map((r) => [r.remedyId, (r.action || '').toLowerCase(), moduleName(r.module) || '—', num(r.devices), when(r.firstAppliedUnix), when(r.lastAppliedUnix)]));
}

async function failuresView(view) {
  view.replaceChildren(h('h2', {}, `Failures of ${session.app}`),
    h('p', {class: 'muted'}, 'Failure signatures devices reported, most reported first. Each signature links to its detail.'),
    h('div', {id: 'failures'}), h('h3', {}, 'Remedies'), h('div', {id: 'remedies'}));
  const refresh = async () => {
    const r = await call('ListFailures', {appId: session.app});
    const failures = r.failures || [];
    $('failures').replaceChildren(failures.length
      ? table(`${failures.length} signature${failures.length === 1 ? '' : 's'} from ${r.reportsScanned} stored reports`,
        ['Signature', 'Kind', 'Exception', 'Module', 'Reports', 'Devices', 'First seen', 'Last seen'],
        failures.map((f) => {
          const s = f.signature || {};
          return [h('td', {}, h('a', {href: `#/failure/${s.signatureId}`, 'data-signature': s.signatureId}, h('code', {}, s.signatureId))),
            kindText(s.kind), s.exceptionType || '—', sigModule(s), num(f.count),
            num(`${f.devices}${f.devicesCapped ? '+' : ''}`), seen(f.firstSeenUnix), seen(f.lastSeenUnix)];
        }))
      : h('p', {id: 'no-failures'}, `No failure reported (${r.reportsScanned} stored reports read).`));
    $('remedies').replaceChildren(remediesTable(r.remedies || []));
  };
  refresh.pollMs = FAILURES_POLL_MS;
  return refresh;
}

async function failureView(view, sig) {
  const hasCharts = await loadCharts();
  view.replaceChildren(
    h('p', {}, h('a', {href: '#/failures'}, '← all failures')),
    h('h2', {}, 'Failure ', h('code', {}, sig)),
    h('p', {id: 'failure-summary', 'aria-live': 'polite'}),
    h('section', {}, h('h3', {}, 'Signature'), h('div', {id: 'failure-signature'})),
    h('section', {}, h('h3', {}, 'Per hour'), h('p', {id: 'failure-hours-text'}),
      h('div', {id: 'failure-chart', class: 'chart', role: 'img', 'aria-labelledby': 'failure-hours-text'}), h('div', {id: 'failure-hours'})),
    h('section', {}, h('h3', {}, 'By release'), h('div', {id: 'failure-releases'})),
    h('section', {}, h('h3', {}, 'By module version'), h('div', {id: 'failure-versions'})),
    h('section', {}, h('h3', {}, 'Top device attributes'), h('div', {id: 'failure-attributes'})),
    h('section', {}, h('h3', {}, 'Remedies'), h('p', {id: 'failure-remedied'}), h('div', {id: 'failure-remedies'})),
  );
  let chartKey = '';
  const refresh = async () => {
    const [f, list] = await Promise.all([call('GetFailure', {appId: session.app, signatureId: sig}),
      call('ListFailures', {appId: session.app, limit: 1})]);
    const s = f.signature || {};
    const devices = `${f.devices}${f.devicesCapped ? ' or more' : ''}`;
    $('failure-summary').replaceChildren(
      h('strong', {}, kindText(s.kind)), `: ${s.exceptionType || 'no exception type'} in ${sigModule(s)}. `,
      h('span', {id: 'failure-count'}, `${f.count} report${f.count === '1' ? '' : 's'} from ${devices} device${devices === '1' ? '' : 's'}`),
      `; first seen ${seen(f.firstSeenUnix)}, last seen ${seen(f.lastSeenUnix)}.`);
    $('failure-summary').dataset.count = f.count;
    $('failure-signature').replaceChildren(table('As first reported', ['Field', 'Value'], [
      ['Kind', kindText(s.kind)], ['Exception type', s.exceptionType || '—'], ['Module', sigModule(s)],
      ['Module version (first report)', s.moduleVersion || '—'], ['Host hash', s.hostHash || '—'],
      ['Top frames (innermost first)', (s.topFrames || []).length ? h('ol', {}, s.topFrames.map((x) => h('li', {}, h('code', {}, x)))) : '—']]));
    const hours = f.windows || [];
    const withReports = hours.filter((w) => Number(w.count));
    const peak = withReports.reduce((m, w) => (!m || Number(w.count) > Number(m.count) ? w : m), null);
    const last = hours[hours.length - 1];
    const rateOf = (w) => (Number(w.launches) ? `${((100 * Number(w.count)) / Number(w.launches)).toFixed(2)}% of ${w.launches} launches` : 'no launches reported');
    $('failure-hours-text').textContent = hours.length
      ? `${hours.length} hour${hours.length === 1 ? '' : 's'} since the first report, ${withReports.length} with reports; peak ${peak ? `${peak.count} reports in the hour from ${when(peak.hourUnix)}` : 'none'}; latest hour ${last.count} reports (${rateOf(last)}).`
      : 'No hourly figures.';
    $('failure-hours').replaceChildren(table('Oldest first; rate = reports / launches in the hour', ['Hour from', 'Reports', 'Devices', 'Launches', 'Rate'],
      hours.map((w) => [when(w.hourUnix), num(w.count), num(w.devices), num(w.launches), rateOf(w)])));
    const key = hours.map((w) => `${w.hourUnix}:${w.count}`).join();
    if (hasCharts && hours.length > 1 && key !== chartKey) {
      chartKey = key;
      lineChart($('failure-chart'), 'Reports per hour', hours.map((w) => Number(w.hourUnix)),
        [{label: 'reports', values: hours.map((w) => Number(w.count))}]);
    } else if (hours.length <= 1) {
      $('failure-chart').textContent = hasCharts ? 'One hour so far: the chart starts with the second.' : 'Charts are unavailable in this build (uPlot was not installed when stratad was built).';
    }
    $('failure-releases').replaceChildren(table('Most reported first', ['Release', 'Reports', 'Devices'],
      (f.releases || []).map((x) => [x.releaseId && x.releaseId !== '0' ? h('td', {}, h('a', {href: `#/release/${x.releaseId}`}, `Release ${x.releaseId}`)) : 'no release',
        num(x.count), num(x.devices)])));
    $('failure-versions').replaceChildren(table(`Versions of ${sigModule(s)}, most reported first`, ['Version', 'Reports'],
      (f.versions || []).map((v) => [v.version || '(none named)', num(v.count)])));
    $('failure-attributes').replaceChildren(table('Per attribute, the values with the most devices', ['Attribute', 'Value', 'Devices'],
      (f.topAttributes || []).map((x) => [x.name.replace(/_/g, ' '), x.value || '(empty)', num(x.devices)])));
    $('failure-remedied').textContent = `${f.remediedDevices} device${f.remediedDevices === '1' ? '' : 's'} applied a remedy naming this signature.`;
    $('failure-remedies').replaceChildren(remediesTable(list.remedies || [], 'Every remedy of the app devices applied (the API does not tie a remedy to a signature)'));
  };
  refresh.pollMs = FAILURES_POLL_MS;
  return refresh;
}

// ---- routing and polling
async function route() {
  clearTimeout(refreshTimer);
  currentRefresh = null;
  $('updated').textContent = '';
  const view = $('view');
  $('notice').textContent = '';
  if (!session.app) { view.replaceChildren(h('p', {}, 'Enter an app id and a token above (the token stays in this tab only).')); return; }
  const [, name, arg] = (location.hash || '#/releases').split('/');
  const views = {releases: releasesView, release: (v) => releaseView(v, arg), artifacts: artifactsView, device: deviceView, audit: auditView,
    failures: failuresView, failure: (v) => failureView(v, decodeURIComponent(arg || ''))};
  const refresh = await (views[name] || releasesView)(view);
  if (!refresh) return;
  const hash = location.hash;
  currentRefresh = refresh;
  const tick = async () => {
    try {
      await refresh();
      $('notice').textContent = '';
      $('updated').textContent = `Live: refreshed ${new Date().toLocaleTimeString()} (every ${(refresh.pollMs || POLL_MS) / 1000} s)`;
    } catch (e) {
      $('notice').textContent = `Could not refresh: ${e.message}`;
    }
    if (location.hash === hash && currentRefresh === refresh) refreshTimer = setTimeout(tick, refresh.pollMs || POLL_MS);
  };
  await tick();
}

async function knownApps() {
  if (!session.token) return;
  try {
    const apps = new Set((await allAudit(5)).map((e) => e.appId).filter((a) => a && a !== '*'));
    $('apps').replaceChildren(...[...apps].map((a) => h('option', {value: a})));
  } catch { /* a token for one app cannot read the log: type the app */ }
}

$('app').value = session.app;
$('token').value = session.token ? '••••••••' : '';
$('session').addEventListener('submit', (ev) => {
  ev.preventDefault();
  session.app = $('app').value.trim();
  if ($('token').value && $('token').value !== '••••••••') session.token = $('token').value.trim();
  $('token').value = session.token ? '••••••••' : '';
  knownApps();
  route();
});
$('signout').addEventListener('click', () => { session.forget(); $('token').value = ''; route(); });
window.addEventListener('hashchange', route);
knownApps();
route();
