// Histories recorded by the code before the relay's dead-letter / continue-as-new-suggested patch and the
// choreography's business-deadline patch (commit f220c4e) replay on today's code without a determinism error:
// a relay run that was in flight at the upgrade (it continued-as-new by fetch count) and a choreographed order.
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { quietRuntime, workflowBundle } from '../helpers/env';

const DIR = join(__dirname, '..', 'fixtures', 'relay-histories');

describe('replay of relay and choreography histories recorded before their patches', () => {
  it('every recorded history replays on the current workflow code', async () => {
    quietRuntime();
    const docs = readdirSync(DIR)
      .filter((f) => f.endsWith('.json'))
      .map(
        (f) =>
          JSON.parse(readFileSync(join(DIR, f), 'utf8')) as {
            workflowId: string;
            historyProtoBase64: string;
          },
      );
    assert.equal(docs.length, 2);
    const results = Worker.runReplayHistories(
      { workflowBundle: await workflowBundle(), replayName: 'settle-relay-replay-test' },
      docs.map((d) => ({
        workflowId: d.workflowId,
        history: temporal.api.history.v1.History.decode(Buffer.from(d.historyProtoBase64, 'base64')) as never,
      })),
    );
    const errors: string[] = [];
    for await (const r of results) if (r.error) errors.push(`${r.workflowId}: ${r.error.message}`);
    assert.deepEqual(errors, []);
  });
});
