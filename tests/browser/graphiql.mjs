// Loads GraphiQL from a running stix-archive in Debian's headless Chromium with every
// request to another host blocked, runs a query through its UI and prints one JSON line:
// {"ok": true, "result": …} or {"ok": false, "error": …}. Usage: node graphiql.mjs BASE_URL
import { chromium } from 'playwright-core';

const base = process.argv[2];
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const origin = new URL(base).origin;
const offHost = [];
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  const context = await browser.newContext();
  // "Network off": only this server is reachable; anything else is aborted and reported.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith('data:') || url.startsWith('blob:')) {
      return route.continue();
    }
    offHost.push(url);
    return route.abort('internetdisconnected');
  });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(base + '/graphql', { waitUntil: 'load', timeout: 30000 });
  await page.waitForSelector('.graphiql-container', { timeout: 30000 });
  // Type a query into the editor and run it.
  const editor = page.locator('.graphiql-query-editor .CodeMirror').first();
  await editor.waitFor({ timeout: 30000 });
  await page.evaluate(() => {
    const cm = document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror;
    cm.setValue('{ version flares(first: 1) { totalCount } }');
  });
  const response = page.waitForResponse(
    (r) => r.url() === base + '/graphql' && r.request().method() === 'POST'
      && (r.request().postData() || '').includes('version'),
    { timeout: 30000 },
  );
  await page.locator('.graphiql-execute-button').click();
  await response;
  const result = page.locator('.graphiql-response .CodeMirror');
  await page.waitForFunction(
    () => (document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror?.getValue() || '').includes('totalCount'),
    null,
    { timeout: 30000 },
  );
  const text = await result.evaluate((el) => el.CodeMirror.getValue());
  console.log(JSON.stringify({ ok: offHost.length === 0, offHost, pageErrors, result: JSON.parse(text) }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, offHost, error: String(e) }));
} finally {
  await browser.close();
}
