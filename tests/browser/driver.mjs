// Drives Debian's Chromium for the Rust tests in tests/it/browser.rs. One command per line on
// stdin, one answer per line on stdout, both JSON: {"id", "op", ...} → {"id", "ok", ...} or
// {"id", "error"}. The tests own the scenario (server, phone, timing); this only works the browser.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const browser = await chromium.launch({
  executablePath: process.env.TANDEM_CHROMIUM || '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
  ],
});

// Each device is its own browser context: its own cookies, like a second phone.
const pages = new Map();

// A phone, or (the agent desk) a laptop.
async function device(laptop) {
  const context = await browser.newContext(
    laptop
      ? { viewport: { width: 1366, height: 900 } }
      : {
          viewport: { width: 390, height: 844 },
          deviceScaleFactor: 2,
          isMobile: true,
          hasTouch: true,
          userAgent:
            'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36',
        },
  );
  return context.newPage();
}

function page(name) {
  const p = pages.get(name);
  if (!p) throw new Error(`no page named ${name}`);
  return p;
}

const ops = {
  async open({ name, url, laptop }) {
    const p = pages.get(name) ?? (await device(laptop));
    pages.set(name, p);
    const res = await p.goto(url, { waitUntil: 'domcontentloaded' });
    return { status: res ? res.status() : 0, url: p.url(), title: await p.title() };
  },
  // Waits until the element's text contains `text`; the text it has then.
  async wait_text({ name, selector, text, timeout }) {
    const p = page(name);
    await p.waitForFunction(
      ([sel, want]) => {
        const el = document.querySelector(sel);
        return !!el && el.textContent.includes(want);
      },
      [selector, text],
      { timeout: timeout ?? 10000 },
    );
    return { text: await p.textContent(selector) };
  },
  async text({ name, selector }) {
    return { text: await page(name).textContent(selector) };
  },
  async count({ name, selector, text }) {
    const n = await page(name).evaluate(
      ([sel, want]) =>
        [...document.querySelectorAll(sel)].filter((el) => el.textContent.includes(want)).length,
      [selector, text ?? ''],
    );
    return { count: n };
  },
  async visible({ name, selector }) {
    return { visible: await page(name).isVisible(selector) };
  },
  async enabled({ name, selector }) {
    return { enabled: await page(name).isEnabled(selector) };
  },
  async tap({ name, selector }) {
    await page(name).tap(selector, { timeout: 10000 });
    return {};
  },
  // A laptop's pointer (the desk has no touch screen).
  async click({ name, selector }) {
    await page(name).click(selector, { timeout: 10000 });
    return {};
  },
  async select({ name, selector, value }) {
    await page(name).selectOption(selector, value, { timeout: 10000 });
    return {};
  },
  // Clicks what submits a form; the status the server answered the post with.
  async submit({ name, selector }) {
    const p = page(name);
    const from = p.url();
    const [res] = await Promise.all([
      p.waitForResponse((r) => r.request().method() === 'POST'),
      p.click(selector),
    ]);
    // The page the post leads to (an error page for a bare 405) must have arrived, or it would
    // interrupt whatever the test opens next.
    await p.waitForURL((u) => u.href !== from, { waitUntil: 'commit' });
    return { status: res.status(), url: res.url(), at: p.url() };
  },
  async screenshot({ name, path }) {
    await page(name).screenshot({ path });
    return { path };
  },
  // axe-core in the page, in the light and then the dark colour scheme (a phone may be in
  // either); the violations of the given impacts, each with its scheme. `dark_path`, if
  // given, is where the page is saved as it looks in the dark.
  async axe({ name, impacts, dark_path }) {
    const p = page(name);
    const violations = [];
    for (const colorScheme of ['light', 'dark']) {
      await p.emulateMedia({ colorScheme });
      if (colorScheme === 'dark' && dark_path) await p.screenshot({ path: dark_path });
      await p.evaluate(AXE);
      const result = await p.evaluate(() => axe.run(document, { resultTypes: ['violations'] }));
      violations.push(
        ...result.violations
          .filter((v) => (impacts ?? ['serious', 'critical']).includes(v.impact))
          .map((v) => ({ scheme: colorScheme, id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) })),
      );
    }
    await p.emulateMedia({ colorScheme: 'light' });
    return { violations };
  },
  // Types into a field as a person does (replacing what it held).
  async fill({ name, selector, value }) {
    await page(name).fill(selector, value, { timeout: 10000 });
    return {};
  },
  // Ticks a checkbox or chooses a radio button by tapping it.
  async check({ name, selector }) {
    await page(name).check(selector, { timeout: 10000 });
    return {};
  },
  // Focuses an element and presses a key on it, as a keyboard user does.
  async press({ name, selector, key }) {
    const p = page(name);
    await p.focus(selector, { timeout: 10000 });
    await p.keyboard.press(key);
    return {};
  },
  // Where the keyboard focus is: the element's id, or its tag when it has none.
  async focused({ name }) {
    return { focused: await page(name).evaluate(() => document.activeElement.id || document.activeElement.tagName) };
  },
  async close({ name }) {
    const p = pages.get(name);
    if (p) await p.context().close();
    pages.delete(name);
    return {};
  },
};

const lines = createInterface({ input: process.stdin });
process.stdout.write(JSON.stringify({ ready: true, version: browser.version() }) + '\n');
for await (const line of lines) {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: `not JSON: ${e.message}` }) + '\n');
    continue;
  }
  try {
    const op = ops[cmd.op];
    if (!op) throw new Error(`unknown op ${cmd.op}`);
    const out = await op(cmd);
    process.stdout.write(JSON.stringify({ id: cmd.id, ok: true, ...out }) + '\n');
  } catch (e) {
    process.stdout.write(JSON.stringify({ id: cmd.id, error: String(e.message || e) }) + '\n');
  }
}
await browser.close();
