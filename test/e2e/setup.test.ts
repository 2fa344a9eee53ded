// `settle setup` on a namespace that has nothing yet: it registers the four search attributes and creates the
// in-doubt sweeper schedule; run again, it changes nothing and says so (idempotent, for every deploy).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { msToTs } from '@temporalio/common/lib/time';
import { SEARCH_ATTRIBUTES } from '../../shared';
import { SWEEPER_SCHEDULE_ID } from '../../client/cluster-setup';
import { startTestStack, type TestStack } from '../helpers/stack';
import { cliEnv, json, runCli } from './run-cli';

interface SetupDoc {
  namespace: string;
  searchAttributes: { name: string; type: string; outcome: string }[];
  schedules: { id: string; outcome: string }[];
}

describe('settle setup', () => {
  let ts: TestStack;
  const namespace = `setup-${process.pid}`;

  before(async () => {
    ts = await startTestStack();
    await ts.client.connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs('1 day'),
    });
  });

  after(async () => {
    await ts?.teardown();
  });

  it('registers the search attributes and the sweeper schedule, then finds them in place', async () => {
    const env = cliEnv(ts.stack.temporal.address, { TEMPORAL_NAMESPACE: namespace });
    // A namespace is usable a moment after it is registered: retry only while the server says it is unknown.
    let first = await runCli(['setup', '--json'], env);
    for (
      let i = 0;
      i < 20 && first.code !== 0 && /not found|NotFound/i.test(first.stdout + first.stderr);
      i++
    )
      first = await runCli(['setup', '--json'], env);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const created = json<SetupDoc>(first);
    assert.equal(created.namespace, namespace);
    assert.deepEqual(
      created.searchAttributes.map((s) => [s.name, s.outcome]),
      SEARCH_ATTRIBUTES.map((s) => [s.name, 'created']),
    );
    assert.deepEqual(created.schedules, [{ id: SWEEPER_SCHEDULE_ID, outcome: 'created' }]);

    const again = await runCli(['setup', '--json'], env);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    const existing = json<SetupDoc>(again);
    assert.ok(
      existing.searchAttributes.every((s) => s.outcome === 'exists'),
      again.stdout,
    );
    assert.deepEqual(existing.schedules, [{ id: SWEEPER_SCHEDULE_ID, outcome: 'exists' }]);
    const listed = await ts.client.connection.operatorService.listSearchAttributes({ namespace });
    for (const sa of SEARCH_ATTRIBUTES) assert.ok(sa.name in (listed.customAttributes ?? {}), sa.name);
  });
});
