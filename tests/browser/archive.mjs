// The archive's pages in Debian's headless Chromium (playwright-core), against a running
// stix-archive that holds the demo sample with its previews made. Every request to another
// host is blocked and reported. Screenshots of each page go to OUT_DIR.
//
// Usage: node archive.mjs BASE_URL OUT_DIR [SCENARIO…]
// Prints one JSON line per scenario: {"scenario", "ok", "error"?, …details}.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const [base, outDir, ...only] = process.argv.slice(2);
const origin = new URL(base).origin;
const M12 = '2211111136';
const M12_FILE = '2211116471';
const TIMEOUT = 60000;
mkdirSync(outDir, { recursive: true });

/** POSTs a GraphQL request to the server under test. */
async function gql(query, variables = {}, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(`${base}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  return r.json();
}

/** Number of frames (image descriptors) of a GIF. */
export function gifFrames(buf) {
  const b = new Uint8Array(buf);
  if (String.fromCharCode(...b.slice(0, 3)) !== 'GIF') throw new Error('not a GIF');
  let p = 13;
  if (b[10] & 0x80) p += 3 * (1 << ((b[10] & 7) + 1));
  const skipBlocks = () => { while (b[p] !== 0) p += b[p] + 1; p += 1; };
  let frames = 0;
  while (p < b.length) {
    const t = b[p];
    if (t === 0x3b) return frames;
    if (t === 0x21) { p += 2; skipBlocks(); continue; }
    if (t === 0x2c) {
      frames += 1;
      const flags = b[p + 9];
      p += 10;
      if (flags & 0x80) p += 3 * (1 << ((flags & 7) + 1));
      p += 1; // LZW minimum code size
      skipBlocks();
      continue;
    }
    throw new Error(`bad GIF block 0x${t.toString(16)} at ${p}`);
  }
  throw new Error('GIF without trailer');
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--no-first-run', '--disable-sync'],
});

/** A fresh browser context (no cookies, no storage) with other hosts blocked. */
async function newPage(offHost, pageErrors, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 }, ...options });
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
    offHost.push(url);
    return route.abort('internetdisconnected');
  });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  // A query the schema rejects (a guessed field, a wrong argument) is a page error.
  page.on('response', async (r) => {
    if (!r.url().startsWith(`${origin}/graphql`) || r.request().method() !== 'POST') return;
    const body = await r.json().catch(() => null);
    for (const e of body?.errors || []) {
      const code = e.extensions?.code;
      if (code === 'GRAPHQL_VALIDATION_FAILED' || code === 'GRAPHQL_PARSE_FAILED' || code === 'INTERNAL') {
        pageErrors.push(`graphql ${code}: ${e.message}`);
      }
    }
  });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`); });
  return page;
}

async function ready(page) {
  await page.waitForSelector('body[data-ready=true]');
}

/**
 * The controls of the page without an accessible name (a <label>, aria-label or
 * aria-labelledby, or a button's text), described; [] when every control is labelled.
 */
async function unlabelled(page) {
  return page.$$eval('input:not([type=hidden]), select, textarea, button', (els) => els
    .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
      || (el.tagName === 'BUTTON' && el.textContent.trim())))
    .map((el) => `${el.tagName.toLowerCase()}#${el.id || '?'}[name=${el.getAttribute('name') || '?'}]`));
}

/** Fails when a control of the page has no accessible name. */
async function expectLabels(page, what) {
  const missing = await unlabelled(page);
  if (missing.length) throw new Error(`${what}: controls without a label: ${missing.join(', ')}`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(outDir, `${name}.png`), fullPage: true });
}

const scenarios = {
  /** The flare list shows the sample's flares, each a real link; the URL holds the filters. */
  async flare_list(page) {
    const api = await gql('{ flares(first: 100) { nodes { flareId imageCount } } }');
    const expected = api.data.flares.nodes.map((f) => String(f.flareId)).sort();
    await page.goto(`${base}/`);
    await ready(page);
    await page.waitForSelector('#flares tbody tr');
    const rows = await page.$$eval('#flares tbody tr', (trs) => trs.map((tr) => ({
      id: tr.dataset.flareId, href: tr.querySelector('td a')?.getAttribute('href'),
    })));
    const shown = rows.map((r) => r.id).sort();
    if (JSON.stringify(shown) !== JSON.stringify(expected)) throw new Error(`rows ${shown} != flares ${expected}`);
    for (const r of rows) if (r.href !== `/flare/${r.id}`) throw new Error(`row ${r.id} links to ${r.href}`);
    // Every flare with images gets the thumbnail of its best 4–10 keV image.
    const withImages = api.data.flares.nodes.filter((f) => f.imageCount > 0).map((f) => String(f.flareId)).sort();
    await page.waitForFunction((n) => [...document.querySelectorAll('#flares img.thumb')]
      .filter((i) => i.complete && i.naturalWidth > 0).length === n, withImages.length);
    const thumbs = await page.$$eval('#flares img.thumb', (imgs) => imgs.length);
    await expectLabels(page, 'flare list');
    await shot(page, 'flares');
    // The filter state is in the URL: a link reproduces the view.
    await page.goto(`${base}/?hasImages=yes&sort=peakCounts&dir=desc`);
    await ready(page);
    await page.waitForSelector('#flares tbody tr');
    const filtered = await page.$$eval('#flares tbody tr', (trs) => trs.map((tr) => tr.dataset.flareId));
    if (JSON.stringify([...filtered].sort()) !== JSON.stringify(withImages)) throw new Error(`hasImages rows ${filtered} != ${withImages}`);
    // Keyboard: focus the first flare link and follow it with Enter.
    await page.focus('#flares tbody tr td a');
    await Promise.all([page.waitForURL(/\/flare\/\d+/), page.keyboard.press('Enter')]);
    return { flares: shown.length, thumbnails: thumbs, withImages: filtered };
  },

  /** Selecting three images and creating an animation shows a GIF with three frames. */
  async animation(page) {
    await page.goto(`${base}/flare/${M12}`);
    await ready(page);
    await page.waitForSelector('#images tbody tr');
    await expectLabels(page, 'flare page');
    const boxes = page.locator('#images tbody input[type=checkbox]');
    // The table works from the keyboard: Space on a focused checkbox selects its image.
    await boxes.nth(0).focus();
    await page.keyboard.press('Space');
    if (!(await boxes.nth(0).isChecked())) throw new Error('Space did not select the focused image');
    for (const i of [5, 10]) await boxes.nth(i).check();
    // The provenance opens from the keyboard too (drawn on first opening).
    await page.focus('#images tbody tr:first-child details.prov summary');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#images tbody tr:first-child details.prov[open] dl');
    const prov = await page.textContent('#images tbody tr:first-child details.prov dl');
    if (!prov.includes('FITS SHA-256') || !prov.includes('Calibration')) throw new Error(`provenance: ${prov}`);
    const count = await page.textContent('#selection-count');
    if (count !== '3 selected') throw new Error(`selection shows "${count}"`);
    await page.click('#animate');
    const gif = page.locator('#animation-gif');
    await gif.waitFor();
    await page.waitForFunction(() => {
      const i = document.getElementById('animation-gif');
      return i && i.complete && i.naturalWidth > 0;
    });
    const src = await gif.getAttribute('src');
    const frames = gifFrames(await (await fetch(new URL(src, base))).arrayBuffer());
    await shot(page, 'flare-animation');
    if (frames !== 3) throw new Error(`the GIF has ${frames} frames`);
    return { frames, src };
  },

  /** Dragging a window on the M1.2 light curve shows exactly the images in that window. */
  async drag_window(page) {
    const all = await gql(`query($f: BigInt!) { flare(flareId: $f) { images(first: 100, filter: { current: true }) { totalCount nodes { id timeStart timeEnd } } } }`, { f: M12 });
    const images = all.data.flare.images.nodes;
    await page.goto(`${base}/flare/${M12}`);
    await ready(page);
    await page.waitForSelector('#lightcurve[data-ready=true]');
    await page.waitForSelector('#images tbody tr');
    await shot(page, 'flare');
    const over = await page.locator('#lightcurve .u-over').boundingBox();
    const y = over.y + over.height / 2;
    await page.mouse.move(over.x + over.width * 0.38, y);
    await page.mouse.down();
    await page.mouse.move(over.x + over.width * 0.43, y, { steps: 5 });
    await page.mouse.move(over.x + over.width * 0.47, y, { steps: 5 });
    await page.mouse.up();
    await page.waitForURL(/from=.*to=/);
    const url = new URL(page.url());
    const from = new Date(url.searchParams.get('from'));
    const to = new Date(url.searchParams.get('to'));
    await page.waitForSelector('[data-state=ready] #images');
    await page.waitForFunction(([a, b]) => {
      const rows = [...document.querySelectorAll('#images tbody tr')];
      return rows.every((r) => new Date(r.dataset.timeEnd) >= new Date(a) && new Date(r.dataset.timeStart) <= new Date(b));
    }, [from.toISOString(), to.toISOString()]);
    const shown = (await page.$$eval('#images tbody tr', (trs) => trs.map((t) => t.dataset.imageId))).sort();
    // Independently: the images of the flare whose interval overlaps the window.
    const expected = images.filter((i) => new Date(i.timeEnd) >= from && new Date(i.timeStart) <= to).map((i) => i.id).sort();
    await shot(page, 'flare-window');
    if (expected.length === 0 || expected.length === images.length) throw new Error(`the window ${from.toISOString()}–${to.toISOString()} holds ${expected.length} of ${images.length} images`);
    if (JSON.stringify(shown) !== JSON.stringify(expected)) throw new Error(`shown ${shown.length} ${shown} != expected ${expected.length} ${expected}`);
    return { window: [from.toISOString(), to.toISOString()], shown: shown.length, of: images.length };
  },

  /** A signed-out user sees no form and cannot submit. */
  async signed_out(page) {
    await page.goto(`${base}/science-file/${M12_FILE}?tab=reconstruct`);
    await ready(page);
    await page.waitForSelector('#signin-to-reconstruct');
    const forms = await page.locator('#reconstruct, #submit-reconstruction').count();
    await shot(page, 'science-file-signed-out');
    if (forms !== 0) throw new Error('a signed-out user sees the reconstruction form');
    const r = await gql(`mutation($input: SubmitReconstructionInput!) { submitReconstruction(input: $input) { id } }`, {
      input: {
        scienceFileUid: M12_FILE, timeRange: { start: '2022-11-11T11:36:00Z', end: '2022-11-11T11:37:00Z' },
        energyRange: { lowKev: 4, highKev: 10 }, algorithms: ['CLEAN'],
      },
    });
    const code = r.errors?.[0]?.extensions?.code;
    if (code !== 'UNAUTHENTICATED') throw new Error(`a submission without a token answered ${JSON.stringify(r)}`);
    await page.goto(`${base}/science-file/${M12_FILE}`);
    await ready(page);
    await page.waitForSelector('#lightcurve[data-ready=true]');
    await page.waitForSelector('#panel-preview[data-state=ready]');
    await expectLabels(page, 'science file');
    await shot(page, 'science-file-preview');
    return { code };
  },

  /** Register, sign in, submit a CLEAN reconstruction, watch it reach SUCCEEDED, see the image. */
  async reconstruct(page) {
    const user = `browser${Date.now() % 1e8}`;
    const password = 'correct horse battery';
    await page.goto(`${base}/register`);
    await ready(page);
    await shot(page, 'register');
    await page.fill('#f-username', user);
    await page.fill('#f-email', `${user}@example.org`);
    await page.fill('#f-password', password);
    await Promise.all([page.waitForURL(/\/jobs$/), page.click('#register button[type=submit]')]);
    await page.click('#signout');
    await page.waitForURL(`${base}/`);
    await page.goto(`${base}/signin?next=${encodeURIComponent(`/science-file/${M12_FILE}?tab=reconstruct`)}`);
    await ready(page);
    await shot(page, 'signin');
    await page.fill('#f-username', user);
    await page.fill('#f-password', password);
    await Promise.all([page.waitForURL(/science-file/), page.click('#signin button[type=submit]')]);
    await ready(page);
    await page.waitForSelector('#reconstruct');
    await page.fill('#f-timeStart', '2022-11-11T11:36:00');
    await page.fill('#f-timeEnd', '2022-11-11T11:37:00');
    await page.selectOption('#f-lowKev', '4');
    await page.selectOption('#f-highKev', '10');
    await shot(page, 'reconstruct-form');
    await expectLabels(page, 'reconstruction form');
    await page.click('#submit-reconstruction');
    // Live progress: the status line follows the jobStatus subscription.
    await page.waitForSelector('#job-progress');
    await page.waitForSelector('#job[data-final]', { timeout: 120000 });
    const final = await page.getAttribute('#job', 'data-final');
    const seen = await page.getAttribute('#job', 'data-seen');
    await page.waitForFunction(() => [...document.querySelectorAll('#job-images img')].some((i) => i.complete && i.naturalWidth > 0));
    const ids = await page.$$eval('#job-images figure', (fs) => fs.map((f) => f.dataset.imageId));
    await shot(page, 'reconstruct-succeeded');
    if (final !== 'SUCCEEDED') throw new Error(`the job ended ${final} (seen: ${seen})`);
    if (ids.length < 1) throw new Error('no image after SUCCEEDED');
    // The new image also appears in the file's Preview tab.
    await page.waitForFunction((id) => !!document.querySelector(`#panel-preview #images tbody tr[data-image-id="${id}"]`), ids[0]);
    await page.click('#tab-preview');
    await shot(page, 'science-file-with-new-image');
    await page.goto(`${base}/jobs`);
    await ready(page);
    await page.waitForSelector('#jobs tbody tr');
    await expectLabels(page, 'my jobs');
    await shot(page, 'my-jobs');
    return { final, seen, images: ids.length, user };
  },

  /** An administrator signs in and sees every job with its owner. */
  async admin_jobs(page) {
    const { ADMIN_USER: user, ADMIN_PASSWORD: password } = process.env;
    if (!user || !password) throw new Error('ADMIN_USER and ADMIN_PASSWORD are not set');
    await page.goto(`${base}/signin?next=${encodeURIComponent('/admin/jobs')}`);
    await ready(page);
    await page.fill('#f-username', user);
    await page.fill('#f-password', password);
    await Promise.all([page.waitForURL(/\/admin\/jobs$/), page.click('#signin button[type=submit]')]);
    await ready(page);
    await page.waitForSelector('#jobs tbody tr');
    const owners = await page.$$eval('#jobs tbody tr td:nth-child(2)', (tds) => tds.map((td) => td.textContent));
    await expectLabels(page, 'all jobs');
    await shot(page, 'admin-jobs');
    if (!owners.length || owners.some((o) => !o || o === '–')) throw new Error(`owners shown: ${owners}`);
    return { owners };
  },

  /** An API validation error appears next to the field it names. */
  async validation(page) {
    const user = `valid${Date.now() % 1e8}`;
    const reg = await gql(`mutation($i: RegisterInput!) { register(input: $i) { token user { id username email role } expiresAt } }`,
      { i: { username: user, email: `${user}@example.org`, password: 'correct horse battery' } });
    const payload = reg.data.register;
    await page.goto(`${base}/`);
    await page.evaluate((p) => {
      localStorage.setItem('stix-archive.token', p.token);
      localStorage.setItem('stix-archive.user', JSON.stringify(p.user));
    }, payload);
    await page.goto(`${base}/science-file/${M12_FILE}?tab=reconstruct`);
    await ready(page);
    await page.waitForSelector('#reconstruct');
    await expectLabels(page, 'reconstruction form');
    // A time range outside the file.
    await page.fill('#f-timeStart', '2022-11-11T08:00:00');
    await page.fill('#f-timeEnd', '2022-11-11T08:01:00');
    await page.click('#submit-reconstruction');
    await page.waitForFunction(() => (document.getElementById('err-timeRange')?.textContent || '').length > 0);
    const message = await page.textContent('#err-timeRange');
    const invalid = await page.getAttribute('#f-timeStart', 'aria-invalid');
    await shot(page, 'reconstruct-validation');
    if (invalid !== 'true') throw new Error('the time fields are not marked invalid');
    return { message };
  },

  /** Light and dark colours: the flare list in dark mode. */
  async dark_mode(page) {
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${base}/flare/${M12}`);
    await ready(page);
    await page.waitForSelector('#images tbody tr');
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await shot(page, 'flare-dark');
    if (bg === 'rgb(255, 255, 255)') throw new Error('dark mode keeps a white background');
    return { background: bg };
  },

  /**
   * Time to interactive of the M1.2 flare page on loopback, measured and reported (not a
   * pass/fail limit: timing depends on the machine). Each of five loads is in a fresh browser
   * context (empty cache): from navigation start until the page has drawn its light curve and
   * image table (`body[data-ready]`, set by main.js with `performance.now()`), with the
   * number of requests and bytes the page fetched. Fails if the page does not show the 35
   * images and the curve.
   */
  async time_to_interactive(page) {
    const loads = [];
    let rows = 0;
    let requests = null;
    for (let i = 0; i < 5; i += 1) {
      const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
      const p = await context.newPage();
      await p.goto(`${base}/flare/${M12}`);
      await p.waitForSelector('body[data-ready=true]', { timeout: TIMEOUT });
      loads.push(await p.evaluate(() => Number(document.body.dataset.readyMs)));
      rows = await p.locator('#images tbody tr').count();
      if (!(await p.locator('#lightcurve[data-ready=true] canvas').count())) throw new Error('no light curve drawn');
      requests = await p.evaluate(() => {
        const r = performance.getEntriesByType('resource').filter((e) => e.startTime < Number(document.body.dataset.readyMs));
        const api = r.filter((e) => e.name.endsWith('/graphql'));
        return {
          all: r.length + 1,
          graphql: api.length,
          graphqlBytes: api.reduce((n, e) => n + e.encodedBodySize, 0),
          graphqlMs: api.map((e) => Math.round(e.duration)),
        };
      });
      await context.close();
    }
    const sorted = [...loads].sort((a, b) => a - b);
    if (rows !== 35) throw new Error(`the page shows ${rows} images, not 35`);
    return { medianMs: sorted[2], loadsMs: loads, rows, requests };
  },
};

const names = only.length ? only : Object.keys(scenarios);
let passed = 0;
let failed = 0;
for (const name of names) {
  const offHost = [];
  const pageErrors = [];
  const page = await newPage(offHost, pageErrors);
  const started = Date.now();
  let line;
  try {
    const details = await scenarios[name](page);
    const ok = offHost.length === 0 && pageErrors.length === 0;
    line = { scenario: name, ok, ms: Date.now() - started, offHost, pageErrors, ...details };
  } catch (e) {
    await shot(page, `${name}-failure`).catch(() => {});
    line = { scenario: name, ok: false, ms: Date.now() - started, error: String(e), offHost, pageErrors };
  }
  if (line.ok) passed += 1; else failed += 1;
  console.log(JSON.stringify(line));
  await page.context().close();
}
await browser.close();
console.log(`browser: ${passed} passed, ${failed} failed`);
