// Encrypted payloads in the Web UI: without a codec endpoint the UI shows ciphertext only; once the codec
// endpoint (services/codec.ts, what `npm run codec-server` serves) is set in the UI's Codec Server settings, the
// same page shows the order in clear, summaries included.
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  AesGcmCodec,
  encryptionDataConverter,
  FAILURE_CONVERTER_PATH,
  startCodecServer,
} from '../../services/codec';
import { freePort } from '../../services/processes';
import { orderSummary, orderWorkflowId, type OrderInput } from '../../shared';
import { WORKFLOWS_PATH } from '../../workers';
import { uniqueId } from '../helpers/env';
import { startTestStack, type TestStack } from '../helpers/stack';
import { ARTIFACTS, launchBrowser, openTab, type Browser } from './browser';
import { cliEnv, json, runCli } from './run-cli';

const KEY = randomBytes(32).toString('base64');
const KEY_ID = 'ui-test';

describe('Web UI with encrypted payloads', () => {
  let ts: TestStack;
  let browser: Browser;
  let codecServer: Awaited<ReturnType<typeof startCodecServer>>;

  before(async () => {
    ts = await startTestStack({ uiPort: await freePort() });
    const codec = AesGcmCodec.fromEnv({ SETTLE_ENCRYPTION_KEY: KEY, SETTLE_ENCRYPTION_KEY_ID: KEY_ID })!;
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: WORKFLOWS_PATH,
      failureConverterPath: FAILURE_CONVERTER_PATH,
      logger: new DefaultLogger('ERROR'),
    });
    await ts.startWorkers({ dataConverter: encryptionDataConverter(codec), workflowBundle });
    const ui = new URL(ts.stack.temporal.uiUrl!);
    codecServer = await startCodecServer(codec, {
      port: 0,
      allowedOrigins: [ui.origin],
    });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await codecServer?.close();
    await ts?.teardown();
  });

  it('shows ciphertext without the codec endpoint and the order in clear with it', async () => {
    const customerId = `cust-${randomBytes(4).toString('hex')}`;
    const input: OrderInput = {
      orderId: uniqueId('uienc'),
      customerId,
      sku: 'SKU-1',
      qty: 1,
      amountCents: 1500,
      failAt: 'charge',
    };
    // The customer has no wallet: the charge is rejected; the saga compensates.
    const placed = await runCli(
      [
        'order',
        'place',
        '--customer',
        customerId,
        '--sku',
        'SKU-1',
        '--qty',
        '1',
        '--amount',
        '15',
        '--order-id',
        input.orderId,
        '--json',
      ],
      cliEnv(ts.stack.temporal.address, { SETTLE_ENCRYPTION_KEY: KEY, SETTLE_ENCRYPTION_KEY_ID: KEY_ID }),
    );
    assert.equal(placed.code, 0, placed.stderr);
    assert.equal(json<{ status: string }>(placed).status, 'compensated');
    const workflowId = orderWorkflowId(input.orderId);
    const { page } = browser;
    const url = `${ts.stack.temporal.uiUrl}/namespaces/default/workflows/${workflowId}`;

    await page.goto(url);
    // The activities are listed by type (not encrypted), but their inputs and summaries are ciphertext.
    await page.getByText('refundPayment', { exact: true }).first().waitFor();
    await page
      .getByText(/^"[A-Za-z0-9+/=]{40,}"$/)
      .first()
      .waitFor();
    assert.equal(await page.getByText(customerId).count(), 0, 'nothing in clear without the key');

    // Settings > Codec Server > "Use my browser setting" with the endpoint, then the page again.
    await page.getByTestId('data-encoder-status').click();
    await page.locator('#use-local-endpoint-radio').check();
    await page.locator('textarea:visible').first().fill(codecServer.url);
    await page.getByTestId('confirm-modal-button').filter({ hasText: 'Apply' }).click();
    await page.goto(url);
    await page.getByText(`"customerId": "${customerId}"`).first().waitFor();
    await page.getByText(`refundPayment • ↩ compensate: refund ${customerId}`).first().waitFor();
    await openTab(page, 'User Metadata');
    await page
      .frameLocator('#user-metadata-summary')
      .getByText(orderSummary(input), { exact: true })
      .waitFor();
    await page
      .frameLocator('#user-metadata-current-details')
      .getByText('order saga: compensated', { exact: true })
      .waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'web-ui-codec.png'), fullPage: true });
  });
});
