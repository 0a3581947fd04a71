// Drives the release console (console/) in headless Chromium through
// puppeteer-core; run by console_test.sh, which starts stratad and the
// fleet and passes their ports, tokens and release ids. Every wait is for
// a state, with a deadline that only guards against a hang.
import {createRequire} from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import {parseArgs} from 'node:util';
// The page's own chain check, run here on the real log and on a forged one.
import {verifyChain} from '../../console/audit.js';

const {values: a} = parseArgs({options: Object.fromEntries(
  ['url', 'chromium', 'modules', 'app', 'viewer', 'manager', 'admin', 'promoted', 'steered', 'device', 'shots', 'ready']
    .map((k) => [k, {type: 'string'}]))});
const require = createRequire(path.join(a.modules, 'noop.js'));
const puppeteer = require('puppeteer-core');
const HANG = 120_000;
const origin = new URL(a.url).origin;

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok' : 'FAILED'}: ${what}`);
  if (!ok) failures++;
}

// The audit log as the API gives it to the admin.
async function auditEntries() {
  const out = [];
  for (let after = 0; ;) {
    const res = await fetch(`${origin}/api/v1/ListAudit`, {method: 'POST',
      headers: {'Content-Type': 'application/json', Authorization: `Bearer ${a.admin}`},
      body: JSON.stringify({afterSeq: String(after)})});
    const {entries = []} = await res.json();
    if (!entries.length) return out;
    out.push(...entries);
    after = Number(entries[entries.length - 1].seq);
  }
}

async function signedIn(browser, token, hash) {
  const ctx = await browser.createBrowserContext();
  const page = await ctx.newPage();
  await page.setViewport({width: 1200, height: 900});
  page.on('pageerror', (e) => { console.log(`page error: ${e.message}`); failures++; });
  page.on('console', (m) => { if (m.type() === 'error') console.log(`console error: ${m.text()}`); });
  await page.goto(a.url + hash, {waitUntil: 'load'});
  await page.type('#app', a.app);
  await page.type('#token', token);
  await page.click('#session button[type=submit]');
  return page;
}

const textOf = (page, sel) => page.$eval(sel, (el) => el.textContent);
async function waitText(page, sel, re) {
  await page.waitForFunction((s, src) => {
    const el = document.querySelector(s);
    return el && new RegExp(src).test(el.textContent);
  }, {timeout: HANG, polling: 100}, sel, re.source);
  return textOf(page, sel);
}
async function shot(page, name, fullPage = true) {
  await new Promise((r) => setTimeout(r, 300));  // let a chart finish drawing
  await page.screenshot({path: path.join(a.shots, `${name}.png`), fullPage});
}

const browser = await puppeteer.launch({executablePath: a.chromium, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage']});
try {
  // 1. A release promoted by its gates changes on the page, no reload.
  const watch = await signedIn(browser, a.manager, `#/release/${a.promoted}`);
  await watch.waitForFunction(() => document.querySelector('#release-summary')?.dataset.state, {timeout: HANG});
  const first = await watch.$eval('#release-summary', (el) => ({...el.dataset}));
  await watch.evaluate(() => { window.__sameDocument = true; });
  console.log(`release ${a.promoted} first seen: ${first.state} stage ${first.stage} exposure ${first.exposureBp}bp`);
  check(first.state === 'RELEASE_ROLLING' && first.stage === '0', 'the promoted release is first seen rolling at stage 1');
  // Only now does the fleet start (console_test.sh waits for this file):
  // without its reports the gates cannot promote before the page looks.
  fs.writeFileSync(a.ready, 'ready\n');
  await watch.waitForFunction((s) => document.querySelector('#release-summary').dataset.stage !== s,
    {timeout: HANG, polling: 100}, first.stage);
  const next = await watch.$eval('#release-summary', (el) => ({...el.dataset}));
  check(await watch.evaluate(() => window.__sameDocument === true), 'the stage changed without a reload');
  check(Number(next.exposureBp) > Number(first.exposureBp), `exposure went from ${first.exposureBp} to ${next.exposureBp} bp on the page`);
  const history = await waitText(watch, '#history', /release\.promote|auto/);
  check(/promote/.test(history), 'the page\'s history shows the gates\' promotion');
  await waitText(watch, '#release-state', /COMPLETED/);
  check(await watch.evaluate(() => window.__sameDocument === true), 'the release completed on the same page, no reload');
  await waitText(watch, '#adoption-text', /devices activated/);
  check(await watch.$('#adoption-chart canvas') !== null, 'the adoption chart is drawn by uPlot (served from stratad)');
  // Per device, not only per cohort: launches and download sizes spread
  // over the devices (GetReleaseDistribution, refreshed every 10 s).
  const dist = await waitText(watch, '#distribution-text', /Treatment: [1-9]\d* devices, [1-9]\d* launches/);
  check(/control: \d+ devices/.test(dist), `the per-device section counts devices and launches: ${dist}`);
  const sizes = await waitText(watch, '#download-text', /median/);
  check(/median [\d.]+ [KM]?i?B, 90th percentile .* largest [\d.]+ [KM]?i?B/.test(sizes), `download sizes per device: ${sizes}`);
  await shot(watch, 'release-completed');

  // 2. A viewer cannot steer: the server's PERMISSION_DENIED, no audit entry.
  const before = (await auditEntries()).length;
  const viewer = await signedIn(browser, a.viewer, `#/release/${a.steered}`);
  await waitText(viewer, '#release-state', /ROLLING/);
  // The page must not move under the pointer when it says it refreshed
  // (that moved the Halt button away from a click, under load).
  await waitText(viewer, '#updated', /Live/);
  const lines = await viewer.$eval('#updated', (u) => {
    const full = u.getBoundingClientRect().height;
    const text = u.textContent;
    u.textContent = '';
    const empty = u.getBoundingClientRect().height;
    u.textContent = text;
    return {full, empty};
  });
  check(lines.empty === lines.full, `the refresh line keeps its height while empty (${lines.empty} px, ${lines.full} px with text)`);
  await viewer.click('button[data-action=HALT]');
  check(await viewer.$eval('#confirm', (d) => d.open), 'Halt asks for confirmation first');
  check(/Halt release/.test(await textOf(viewer, '#confirm-text')), 'the confirmation names the action and release');
  await viewer.click('#confirm-ok');
  const denied = await waitText(viewer, '#steer-result', /PERMISSION_DENIED|done/);
  check(/PERMISSION_DENIED/.test(denied), `the viewer's halt is refused: ${denied}`);
  check((await auditEntries()).length === before, 'the refused halt left no audit entry');
  await shot(viewer, 'viewer-denied');
  check(/ROLLING/.test(await textOf(viewer, '#release-state')), 'the release still rolls after the viewer\'s attempt');

  // 2b. Failures, with the viewer's token: the crashing checkout page's
  // signature is listed; its detail (opened by keyboard) shows its count.
  const t0 = Date.now();
  await viewer.goto(`${a.url}#/failures`);
  const list = await waitText(viewer, '#failures', /h5\/checkout/);
  const sig = await viewer.$eval('#failures a[data-signature]', (el) => el.dataset.signature);
  const api = await (await fetch(`${origin}/api/v1/ListFailures`, {method: 'POST',
    headers: {'Content-Type': 'application/json', Authorization: `Bearer ${a.viewer}`},
    body: JSON.stringify({appId: a.app})})).json();
  const listed = (api.failures || []).find((f) => f.signature.signatureId === sig);
  check(/^[0-9a-f]{16}$/.test(sig) && listed && /crash/.test(list) && /TypeError/.test(list),
    `the Failures page lists signature ${sig} (crash, TypeError, h5/checkout)`);
  await shot(viewer, 'failures');
  await viewer.focus(`#failures a[data-signature="${sig}"]`);
  await viewer.keyboard.press('Enter');
  const summary = await waitText(viewer, '#failure-count', /\d+ reports? from \d+ devices?/);
  const shown = Number(await viewer.$eval('#failure-summary', (el) => el.dataset.count));
  check(shown >= Number(listed ? listed.count : 1) && summary.startsWith(`${shown} report`),
    `the detail shows the signature's count: ${summary}`);
  const detail = await textOf(viewer, 'main');
  check(/android/.test(detail) && /Release \d+|no release/.test(detail) && /no remedy|0 devices applied/.test(detail),
    'the detail shows releases, device attributes and remedies');
  await shot(viewer, 'failure');
  console.log(`failures pages checked in ${Date.now() - t0} ms`);

  // 3. Keyboard: the release manager opens and cancels, then halts.
  const rm = await signedIn(browser, a.manager, `#/release/${a.steered}`);
  await waitText(rm, '#release-state', /ROLLING/);
  await rm.focus('button[data-action=PAUSE]');
  await rm.keyboard.press('Enter');
  check(await rm.$eval('#confirm', (d) => d.open), 'Enter on a focused button opens the dialog');
  check(await rm.evaluate(() => document.activeElement.id === 'confirm-cancel'), 'focus moves to Cancel in the dialog');
  await rm.keyboard.press('Escape');
  await waitText(rm, '#steer-result', /cancelled/);
  check((await auditEntries()).length === before, 'a cancelled dialog sends nothing');
  await rm.focus('button[data-action=HALT]');
  await rm.keyboard.press('Enter');
  await rm.type('#confirm-reason', 'halted from the console test');
  await rm.click('#confirm-ok');
  const audit = await waitText(rm, '#steer-result', /Audit entry|[A-Z_]{6,}:/);
  check(/Audit entry #\d+: console-rm release\.halt/.test(audit), `the page shows the halt's audit entry: ${audit}`);
  await waitText(rm, '#release-state', /HALTED/);
  check(true, 'the page shows HALTED in text');
  const enabled = await rm.$$eval('.steer button', (bs) => bs.filter((b) => !b.disabled).map((b) => b.dataset.action).join());
  check(enabled === 'RESUME,ROLL_BACK', `a halted release offers only Resume and Roll back (enabled: ${enabled})`);
  await rm.click('button[data-action=ROLL_BACK]');
  await rm.waitForFunction(() => document.querySelector('#confirm').open, {timeout: HANG});
  const plan = await textOf(rm, '#confirm-text');
  check(/It puts back:\s*• hcf\/cart 1 \(/.test(plan), `Roll back shows the server's dry-run plan first: ${plan.replace(/\n/g, ' ')}`);
  await shot(rm, 'rollback-confirm', false);
  await rm.keyboard.press('Escape');
  await waitText(rm, '#steer-result', /cancelled/);
  await shot(rm, 'release-halted');
  const after = await auditEntries();
  const halt = after.find((e) => e.action === 'release.halt' && e.detail.includes(`release_id=${a.steered} `));
  check(halt && halt.actor === 'console-rm' && halt.detail.includes('halted from the console test'),
    `ListAudit has the halt: ${halt ? `${halt.seq} ${halt.actor} ${halt.detail}` : 'none'}`);

  // 4. The audit page: chain verified in the page, searchable.
  const admin = await signedIn(browser, a.admin, '#/audit');
  await waitText(admin, '#chain', /Chain verified/);
  await admin.type('#audit-search', 'halt');
  const rows = await waitText(admin, '#audit', /release\.halt/);
  check(rows.includes(`release_id=${a.steered}`) && rows.includes('console-rm'), 'the audit page finds the halt by search');
  check(!/token\.create/.test(rows), 'the search filters out other entries');
  const log = await auditEntries();
  check((await verifyChain(log)).ok, `the page's chain check accepts the real log of ${log.length} entries`);
  const forged = log.map((e) => ({...e}));
  forged[2].detail += ' (edited)';
  const v = await verifyChain(forged);
  check(!v.ok && /entry 3 .*altered/.test(v.why), `the page's chain check refuses an edited entry: ${v.why}`);
  await admin.$eval('#audit-search', (el) => { el.value = ''; el.dispatchEvent(new Event('input')); });
  await shot(admin, 'audit');

  // 5. The other pages, for their screenshots and a sanity check.
  await admin.goto(`${a.url}#/artifacts`);
  const arts = await waitText(admin, '#artifacts', /mall-home/);
  check(/cart/.test(arts) && /[0-9a-f]{6,}/.test(arts), 'modules and versions list sizes and signer key ids');
  await shot(admin, 'artifacts');
  await admin.goto(`${a.url}#/releases`);
  await waitText(admin, '#releases', new RegExp(`Release ${a.steered}`));
  await shot(admin, 'releases');
  await admin.goto(`${a.url}#/device`);
  await admin.waitForSelector('#device-id');
  await admin.type('#device-id', a.device);
  await admin.keyboard.press('Enter');
  const why = await waitText(admin, '#explain', /Release \d+|[A-Z_]{6,}:/);
  check(new RegExp(`Release ${a.promoted}`).test(why), `explain shows what each release means for ${a.device}`);
  await shot(admin, 'device');
} finally {
  await browser.close();
}
console.log(failures ? `${failures} browser checks FAILED` : 'all browser checks passed');
process.exit(failures ? 1 : 0);
