// Debian's stock Firefox ESR (WebDriver BiDi, driven by puppeteer-core), behind the small part
// of playwright's API that archive.mjs uses, so that the same scenarios run in both browsers.
// Playwright cannot drive stock Firefox (it needs its own patched build); puppeteer-core can.
//
// Only what the scenarios call is here, with playwright's meaning: `waitForSelector` waits for
// a visible element, actions (`click`, `fill`, `focus`, `locator(…).nth(i)`) wait for their
// element, `waitForFunction(fn, arg)` polls on animation frames, `waitForURL` waits for the
// page's URL. `context.route('**/*', handler)` intercepts every request of the context's pages.
import puppeteer, { TimeoutError } from 'puppeteer-core';

/**
 * Preferences of the fresh profile, on top of puppeteer's own (which already turn off updates,
 * safe browsing, telemetry and the other background services). Anything that still tries to
 * leave the machine meets a proxy on a closed loopback port; loopback itself is never
 * proxied, so the server under test is reached directly. Requests of the pages are also
 * intercepted and reported by archive.mjs before they get that far.
 */
const PREFS = {
  'network.proxy.type': 1,
  'network.proxy.http': '127.0.0.1',
  'network.proxy.http_port': 9,
  'network.proxy.ssl': '127.0.0.1',
  'network.proxy.ssl_port': 9,
  'network.proxy.share_proxy_settings': true,
  'network.proxy.no_proxies_on': 'localhost, 127.0.0.1, [::1]',
  'network.proxy.allow_hijacking_localhost': false,
  'network.dns.disablePrefetch': true,
  'network.prefetch-next': false,
  'network.connectivity-service.enabled': false,
  'network.captive-portal-service.enabled': false,
  'browser.newtabpage.enabled': false,
  'extensions.getAddons.cache.enabled': false,
  'media.gmp-manager.url': 'http://127.0.0.1:9/',
};

/** Headless Firefox with a fresh (temporary) profile, `extra` added to its preferences. */
function launch(executablePath, extra = {}) {
  return puppeteer.launch({
    browser: 'firefox',
    executablePath,
    headless: true,
    args: ['--no-remote'],
    extraPrefsFirefox: { ...PREFS, ...extra },
  });
}

/** Launches headless Firefox with a fresh (temporary) profile; `close()` removes it. */
export async function launchFirefox(executablePath = process.env.FIREFOX || '/usr/bin/firefox-esr') {
  return new Browser(await launch(executablePath), executablePath);
}

class Browser {
  constructor(browser, executablePath) {
    this.browser = browser;
    this.executablePath = executablePath;
    this.dark = null;
  }

  version() { return this.browser.version(); }

  /**
   * A fresh context (its own cookies and storage). WebDriver BiDi cannot emulate
   * `prefers-color-scheme` (puppeteer's emulateMediaFeatures needs CDP), so a context with
   * `colorScheme: 'dark'` lives in a second Firefox, launched on first use, whose profile
   * makes pages see the dark scheme (`layout.css.prefers-color-scheme.content-override` 0).
   */
  async newContext(options = {}) {
    let browser = this.browser;
    if (options.colorScheme === 'dark') {
      this.dark ??= launch(this.executablePath, { 'layout.css.prefers-color-scheme.content-override': 0 });
      browser = await this.dark;
    } else if (options.colorScheme && options.colorScheme !== 'light') {
      throw new Error(`firefox adapter: colorScheme ${options.colorScheme} is not supported`);
    }
    return new Context(await browser.createBrowserContext(), options);
  }

  async close() {
    if (this.dark) await (await this.dark).close();
    await this.browser.close();
  }
}

class Context {
  constructor(context, options) {
    this.context = context;
    this.options = options;
    this.handler = null;
  }

  /** Every request of the context's pages goes to `handler` (only the pattern `**\/*`). */
  async route(pattern, handler) {
    if (pattern !== '**/*') throw new Error(`firefox adapter: route pattern ${pattern} is not supported`);
    this.handler = handler;
  }

  async newPage() {
    const raw = await this.context.newPage();
    if (this.options.viewport) await raw.setViewport(this.options.viewport);
    if (this.handler) {
      await raw.setRequestInterception(true);
      raw.on('request', (request) => {
        if (request.isInterceptResolutionHandled()) return;
        this.handler({
          request: () => ({ url: () => request.url(), method: () => request.method() }),
          continue: () => request.continue(),
          abort: (reason) => request.abort(reason || 'failed'),
        });
      });
    }
    return new Page(raw, this);
  }

  close() { return this.context.close(); }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Page {
  constructor(raw, context) {
    this.raw = raw;
    this.ctx = context;
    this.timeout = 30000;
    // Playwright's key names where puppeteer's differ ('Space' is ' ' to puppeteer).
    const key = (name) => (name === 'Space' ? ' ' : name);
    this.keyboard = {
      press: (name, options) => raw.keyboard.press(key(name), options),
      down: (name, options) => raw.keyboard.down(key(name), options),
      up: (name) => raw.keyboard.up(key(name)),
      type: (text, options) => raw.keyboard.type(text, options),
    };
    this.mouse = raw.mouse;
  }

  context() { return this.ctx; }

  setDefaultTimeout(ms) {
    this.timeout = ms;
    this.raw.setDefaultTimeout(ms);
  }

  /** 'pageerror' (an Error), 'console' (type(), text()), 'response' (url(), request().method(), json()). */
  on(event, listener) { this.raw.on(event, listener); }

  goto(url) { return this.raw.goto(url, { waitUntil: 'load', timeout: this.timeout }); }

  url() { return this.raw.url(); }

  /**
   * Runs the wait `wait(msLeft)` again when it fails for another reason than its timeout: over
   * BiDi a wait in a document that a navigation replaces fails at once, where playwright goes
   * on waiting in the new document.
   */
  async across(wait, timeout) {
    const end = Date.now() + (timeout ?? this.timeout);
    for (;;) {
      try {
        return await wait(Math.max(1, end - Date.now()));
      } catch (e) {
        if (e instanceof TimeoutError || Date.now() >= end) throw e;
        await sleep(50);
      }
    }
  }

  /** Waits for a visible element, as playwright's default does. */
  waitForSelector(selector, options = {}) {
    return this.across((timeout) => this.raw.waitForSelector(selector, { visible: true, timeout }), options.timeout);
  }

  /** Waits for an element in the DOM, visible or not. */
  attached(selector) { return this.across((timeout) => this.raw.waitForSelector(selector, { timeout })); }

  /** Waits until `fn(arg)` is truthy in the page (polled on animation frames). */
  waitForFunction(fn, arg, options = {}) {
    return this.across((timeout) => this.raw.waitForFunction(fn, { timeout, polling: 'raf' }, arg), options.timeout);
  }

  /**
   * Waits until the page's URL equals `want` or matches the RegExp `want`, and its document
   * has loaded, as playwright's waitForURL does.
   */
  async waitForURL(want) {
    const matches = (url) => (want instanceof RegExp ? want.test(url) : url === String(want));
    const end = Date.now() + this.timeout;
    for (;;) {
      if (matches(this.raw.url())) {
        // The document is the one at that URL (not the one being left) and it has loaded.
        const state = await this.raw.evaluate(() => [location.href, document.readyState]).catch(() => null);
        if (state && matches(state[0]) && state[1] === 'complete') return;
      }
      if (Date.now() > end) throw new Error(`timeout waiting for the URL ${want}, at ${this.raw.url()}`);
      await sleep(50);
    }
  }

  evaluate(fn, arg) { return this.raw.evaluate(fn, arg); }

  $$eval(selector, fn, arg) { return this.raw.$$eval(selector, fn, arg); }

  screenshot(options) { return this.raw.screenshot(options); }

  async focus(selector) {
    await this.attached(selector);
    await this.raw.focus(selector);
  }

  click(selector) { return this.raw.locator(selector).setTimeout(this.timeout).click(); }

  fill(selector, value) { return this.raw.locator(selector).setTimeout(this.timeout).fill(value); }

  async selectOption(selector, value) {
    await this.attached(selector);
    const chosen = await this.raw.select(selector, value);
    if (!chosen.includes(value)) throw new Error(`${selector} has no option ${value}`);
  }

  async textContent(selector) {
    await this.attached(selector);
    return this.raw.$eval(selector, (el) => el.textContent);
  }

  async getAttribute(selector, name) {
    await this.attached(selector);
    return this.raw.$eval(selector, (el, n) => el.getAttribute(n), name);
  }

  async isChecked(selector) {
    await this.attached(selector);
    return this.raw.$eval(selector, (el) => el.checked);
  }

  /** Whether a matching element is visible now (no waiting, as in playwright). */
  async isVisible(selector) {
    const el = await this.raw.$(selector);
    return el ? el.isVisible() : false;
  }

  emulateMedia() {
    throw new Error('firefox adapter: WebDriver BiDi cannot emulate media features; give newContext a colorScheme');
  }

  locator(selector) { return new Locator(this, selector, 0); }
}

/** The `index`-th element matching `selector`, found when an action needs it. */
class Locator {
  constructor(page, selector, index) {
    this.page = page;
    this.selector = selector;
    this.index = index;
  }

  nth(index) { return new Locator(this.page, this.selector, index); }

  async count() { return (await this.page.raw.$$(this.selector)).length; }

  /** Waits until the element exists and returns its handle. */
  async element() {
    const end = Date.now() + this.page.timeout;
    for (;;) {
      const all = await this.page.raw.$$(this.selector).catch(() => []);
      if (all.length > this.index) return all[this.index];
      if (Date.now() > end) throw new Error(`timeout waiting for ${this.selector} #${this.index}`);
      await sleep(50);
    }
  }

  async waitFor() {
    if (this.index === 0) await this.page.waitForSelector(this.selector);
    else await this.element();
  }

  async focus() { await (await this.element()).focus(); }

  async click() { await (await this.element()).click(); }

  async isChecked() { return (await this.element()).evaluate((el) => el.checked); }

  /** Checks a checkbox by clicking it, as a user would; fails if it does not end up checked. */
  async check() {
    const el = await this.element();
    if (!(await el.evaluate((e) => e.checked))) await el.click();
    if (!(await el.evaluate((e) => e.checked))) throw new Error(`${this.selector} #${this.index} did not become checked`);
  }

  async getAttribute(name) { return (await this.element()).evaluate((el, n) => el.getAttribute(n), name); }

  async boundingBox() { return (await this.element()).boundingBox(); }
}
