// The Web UI shows what a transaction did: an order placed through the CLI fails at payment; in the dev server's
// Web UI (headless Debian Chromium driven by playwright-core) a list query finds it, its history shows the
// compensation activities, and its user metadata shows the static summary and the live ledger (current details).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../services/processes';
import { orderSummary, orderWorkflowId, type OrderInput } from '../../shared';
import { uniqueId } from '../helpers/env';
import { startTestStack, type TestStack } from '../helpers/stack';
import { ARTIFACTS, launchBrowser, openTab, type Browser } from './browser';
import { cliEnv, json, runCli } from './run-cli';

describe('Web UI', () => {
  let ts: TestStack;
  let uiUrl: string;
  let browser: Browser;

  before(async () => {
    ts = await startTestStack({ uiPort: await freePort() });
    uiUrl = ts.stack.temporal.uiUrl!;
    await ts.startWorkers();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await ts?.teardown();
  });
  it('finds an order that failed at payment by list query and shows its summary, compensations and current details', async () => {
    const input: OrderInput = {
      orderId: uniqueId('ui'),
      customerId: 'alice',
      sku: 'SKU-1',
      qty: 2,
      amountCents: 3000,
      failAt: 'charge',
    };
    const workflowId = orderWorkflowId(input.orderId);
    const placed = await runCli(
      [
        'order',
        'place',
        '--customer',
        input.customerId,
        '--sku',
        input.sku,
        '--qty',
        String(input.qty),
        '--amount',
        '30',
        '--order-id',
        input.orderId,
        '--fail-at',
        'charge',
        '--json',
      ],
      cliEnv(ts.stack.temporal.address),
      { npx: true },
    );
    assert.equal(placed.code, 0, placed.stderr);
    const result = json<{ status: string; compensations: string[] }>(placed);
    assert.equal(result.status, 'compensated');
    assert.deepEqual(result.compensations, ['refundPayment', 'releaseStock', 'cancelOrder']);

    // Visibility is eventually consistent: wait until the list query sees the workflow, then open the UI on it.
    const query = `SettlePattern = 'saga' AND SettleStatus = 'compensated' AND SettleBusinessKey = '${input.orderId}'`;
    while ((await ts.client.workflow.count(query)).count === 0) await new Promise((r) => setTimeout(r, 100));

    const { page } = browser;
    await page.goto(`${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(query)}`);
    const row = page.getByRole('link', { name: workflowId, exact: true }).first();
    await row.waitFor();
    // The list shows this workflow only: the query in the URL was applied.
    assert.equal(await page.getByRole('link', { name: /^order-/ }).count(), 1);
    await row.click();
    await page.waitForURL(new RegExp(`/workflows/${workflowId}/`));

    // History: the compensation activities, recognisable by their summaries.
    await openTab(page, /^Event History/);
    for (const [activity, summary] of [
      ['refundPayment', `↩ compensate: refund ${input.customerId}`],
      ['releaseStock', `↩ compensate: release ${input.qty} x ${input.sku}`],
      ['cancelOrder', `↩ compensate: cancel order ${input.orderId}`],
    ] as const) {
      await page.getByText(activity, { exact: true }).first().waitFor();
      await page.getByText(summary, { exact: true }).first().waitFor();
    }
    await page
      .getByText(`↩ compensate: refund ${input.customerId}`, { exact: true })
      .first()
      .scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(ARTIFACTS, 'web-ui-history.png') });

    // User metadata: the static summary in plain words, and the current details (the live ledger).
    await openTab(page, 'User Metadata');
    // The UI renders each as markdown in its own frame.
    await page
      .frameLocator('#user-metadata-summary')
      .getByText(orderSummary(input), { exact: true })
      .waitFor();
    const details = page.frameLocator('#user-metadata-current-details');
    await details.getByText('order saga: compensated', { exact: true }).waitFor();
    await details.getByText(/^charge: compensated .*InjectedFailure: injected failure at charge$/).waitFor();
    for (const c of ['refundPayment', 'releaseStock', 'cancelOrder'])
      await details.getByText(new RegExp(`^↩ ${c}: compensated`)).waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'web-ui.png'), fullPage: true });
  });
});
