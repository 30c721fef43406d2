// The README's screenshots, taken as a person would see them: `page LINK DIR` opens the demo's
// texted link in Chromium at phone size, taps Open, then Approve, and saves the page before and
// after (light and dark); `terminal ANSI_FILE PNG` draws a captured terminal (tmux
// `capture-pane -e`) with its colours. Run by scripts/screenshots.sh.
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

// The SGR codes the demo uses, as a terminal with a dark theme shows them.
const SGR = { 1: 'font-weight:bold', 2: 'opacity:.62', 31: 'color:#ff6b6b', 32: 'color:#7ee787', 33: 'color:#e3b341', 36: 'color:#79c0ff' };

const [mode, input, out] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.TANDEM_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
});

try {
  if (mode === 'page') await page(input, out);
  else if (mode === 'terminal') await terminal(input, out);
  else throw new Error(`usage: shots.mjs page LINK DIR | terminal ANSI_FILE PNG`);
} finally {
  await browser.close();
}

async function page(link, dir) {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
  const p = await context.newPage();
  await p.goto(link);
  await p.tap('button');
  await p.waitForSelector('#approve:not([disabled])');
  await both(p, `${dir}/page-charges`);
  await p.tap('#approve');
  await p.waitForFunction(() => document.querySelector('#outcome').textContent.includes('approved'));
  await both(p, `${dir}/page-approved`);
  await p.waitForFunction(() => document.querySelector('#outcome').textContent.includes('ended'), null, { timeout: 30000 });
  await both(p, `${dir}/page-ended`);
}

async function both(p, path) {
  await p.emulateMedia({ colorScheme: 'light' });
  await p.screenshot({ path: `${path}.png` });
  await p.emulateMedia({ colorScheme: 'dark' });
  await p.screenshot({ path: `${path}-dark.png` });
  await p.emulateMedia({ colorScheme: 'light' });
}

async function terminal(file, png) {
  const escape = (t) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  let html = '';
  let open = false;
  for (const part of readFileSync(file, 'utf8').replace(/\s+$/, '').split(/(\x1b\[[0-9;]*m)/)) {
    const m = part.match(/^\x1b\[([0-9;]*)m$/);
    if (!m) {
      html += escape(part);
      continue;
    }
    if (open) html += '</span>';
    const styles = m[1].split(';').map((c) => SGR[Number(c)]).filter(Boolean);
    open = styles.length > 0;
    if (open) html += `<span style="${styles.join(';')}">`;
  }
  if (open) html += '</span>';
  const p = await browser.newPage({ viewport: { width: 1000, height: 200 }, deviceScaleFactor: 2 });
  await p.setContent(
    `<body style="margin:0;background:#0d1117"><pre style="margin:0;padding:16px;color:#e6edf3;` +
      `font:13px/1.45 'DejaVu Sans Mono',monospace;width:max-content">${html}</pre></body>`,
  );
  await p.locator('pre').screenshot({ path: png });
}
