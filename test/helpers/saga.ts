// What the saga workflow suites (time-skipping server, stubbed activities) share: the server per suite, polling a
// saga's progress query, and awaiting a started saga while the test drives it.
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { after, before } from 'node:test';
import { sagaProgressQuery, type SagaProgress } from '../../shared';
import { timeSkippingEnv } from './env';

/** Registers before/after hooks on the enclosing describe; `env` is set once `before` ran. */
export function timeSkippingSuite(): { readonly env: TestWorkflowEnvironment } {
  const s = {} as { env: TestWorkflowEnvironment };
  before(async () => {
    s.env = await timeSkippingEnv();
  });
  after(async () => {
    await s.env?.teardown();
  });
  return s;
}

export async function waitForProgress(
  h: WorkflowHandle,
  ok: (p: SagaProgress) => boolean,
  what: string,
): Promise<SagaProgress> {
  for (let i = 0; i < 2000; i++) {
    const p = await h.query(sagaProgressQuery);
    if (ok(p)) return p;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

/**
 * The saga's result; `drive` runs while it is awaited (time skipping on), unless `parks`: a saga parked for an
 * operator has nothing scheduled, and with time skipping on the test server would jump straight to its execution
 * timeout, so such a test drives first and awaits the result after.
 */
export async function driveToResult<H extends WorkflowHandle, S, R>(
  h: H,
  stubs: S,
  drive: ((h: H, stubs: S) => Promise<void>) | undefined,
  parks: boolean | undefined,
): Promise<R> {
  if (parks) {
    await drive?.(h, stubs);
    return (await h.result()) as R;
  }
  const result = h.result() as Promise<R>;
  result.catch(() => undefined);
  await drive?.(h, stubs);
  return result;
}
