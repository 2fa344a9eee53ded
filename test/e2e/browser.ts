// Headless Chromium driven by playwright-core: the one `npm test` provisioned (scripts/chromium.js: Debian's
// package, or SETTLE_CHROMIUM_PATH / CHROME_PATH); Playwright's own browser download is never used. A fresh, empty
// profile per launch.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ROOT } from './run-cli';

interface ChromiumProvisioner {
  provisionChromium(opts: { install: boolean }): string;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { provisionChromium } = require(join(ROOT, 'scripts', 'chromium.js')) as ChromiumProvisioner;
export const ARTIFACTS = join(ROOT, 'test-artifacts');

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'settle-chromium-'));
  mkdirSync(ARTIFACTS, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    // Run outside npm test (node --test ...), a missing browser fails here with the same instruction.
    executablePath: provisionChromium({ install: false }),
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1400, height: 1000 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Open a workflow's tab (Timeline, Event History, User Metadata, ...) on its page. */
export async function openTab(page: Page, name: string | RegExp): Promise<void> {
  await page.getByRole('link', { name }).or(page.getByRole('tab', { name })).first().click();
}
