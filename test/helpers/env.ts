// Test environments on the real Temporal binaries (located by scripts/bootstrap.js, never downloaded).
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { randomBytes } from 'node:crypto';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Runtime,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { temporalBinaries } from '../../services/tools';
import { WORKFLOWS_PATH } from '../../workers';

// Test processes: a TCC signing key of their own (so no test writes into the checkout's .data), and the
// fault-injection switches on (tests inject faults on purpose; production workers ignore them, see
// activities/faults.ts). A test that plays production passes `faults: false` explicitly.
process.env.SETTLE_TCC_KEY ||= randomBytes(32).toString('hex');
process.env.SETTLE_FAULTS ||= '1';

let runtimeInstalled = false;
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
}

/** The time-skipping test server: timers and timeouts elapse instantly when the workflow is blocked on them. */
export async function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  return TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: temporalBinaries().testServer } },
  });
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** Bundle the workflows once per test process; every Worker in the file reuses it. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  return (bundle ??= bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: new DefaultLogger('ERROR'),
  }));
}

let counter = 0;
/** A workflow id unique to this test run, so tests never share state. */
export function uniqueId(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}
