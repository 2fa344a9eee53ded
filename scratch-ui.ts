import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chromium-'));
  const browser = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 1000 },
  });
  const page = browser.pages()[0] ?? await browser.newPage();
  const q = encodeURIComponent("SettleBusinessKey = 'ui-1'");
  await page.goto(`http://localhost:18233/namespaces/default/workflows?query=${q}`);
  await page.getByRole('link', { name: 'order-ui-1' }).first().click();
  await page.getByRole('link', { name: 'User Metadata' }).or(page.getByRole('tab', { name: 'User Metadata' })).first().click();
  await page.waitForTimeout(4000);
  await page.screenshot({ path: 'test-artifacts/scratch-hist.png', fullPage: true });
  console.log(page.url());
  const t = await page.locator('body').innerText();
  for (const f of page.frames()) console.log('FRAME', f.url(), f.name(), JSON.stringify((await f.locator('body').innerText().catch(() => '?')).slice(0, 300)));
  console.log(await page.locator('iframe').evaluateAll((fs) => fs.map((f) => f.outerHTML.slice(0, 300))));
  await browser.close();
})();
