// The 2PC (and 3PC) coordinators against the time-skipping server with stubbed participants: the decision for
// every vote pattern, the vote timeout (time-skipped), phase two retried until done, presumed abort asked by the
// sweeper, and cancellation before and after the decision.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  coordinatorStateQuery,
  presumeAbortUpdate,
  TASK_QUEUES,
  transferWorkflowId,
  type BeginTransactionRequest,
  type BranchRef,
  type CoordinatorOptions,
  type DecideTransactionRequest,
  type TransactionRecord,
  type PrepareRequest,
  type TransferInput,
  type TransferResult,
  type Vote,
} from '../../shared';
import type { transfer2pc } from '../../workflows';
import { timeSkippingEnv, uniqueId } from '../helpers/env';
import { Gate, waitFor } from '../helpers/transfers';
import { withWorkers } from '../helpers/workers';

type PrepareBehaviour = 'yes' | 'no' | 'unreachable' | 'error' | 'gate' | 'already-committed';

/** Hold at the gate, heartbeating like the real prepare does (its heartbeat timeout is part of the options). */
async function heldAt(gate: Gate, gid: string): Promise<void> {
  const timer = setInterval(() => Context.current().heartbeat(), 200);
  try {
    await gate.wait(gid);
  } finally {
    clearInterval(timer);
  }
}

/** An in-memory coordinator log with the real one's rules: begin binds the id to a digest, decide is write-once. */
function stubCoordinatorLog(earlier?: { decision: 'commit' | 'abort'; reason: string }) {
  const rows = new Map<string, TransactionRecord>();
  return {
    async beginTransaction(req: BeginTransactionRequest): Promise<TransactionRecord> {
      await Promise.resolve(); // an activity: answers asynchronously like the real log
      const digest = JSON.stringify(req.legs);
      const rec = rows.get(req.txId) ?? { txId: req.txId, digest, firstRunId: req.runId, ...earlier };
      rows.set(req.txId, rec);
      return rec.digest === digest ? rec : { ...rec, conflict: true };
    },
    async decideTransaction(req: DecideTransactionRequest): Promise<TransactionRecord> {
      await Promise.resolve();
      const rec = rows.get(req.txId)!;
      if (!rec.decision) Object.assign(rec, { decision: req.decision, reason: req.reason });
      return rec;
    },
  };
}

interface Plan {
  prepare?: Partial<Record<string, PrepareBehaviour>>;
  /** Phase-two calls that fail (retryably) this many times before they succeed, per participant. */
  commitFailures?: Partial<Record<string, number>>;
  /** 3PC: participants whose pre-commit is refused. */
  refusePreCommit?: string[];
  /** A decision an earlier run of the same id recorded in the coordinator log. */
  earlier?: { decision: 'commit' | 'abort'; reason: string };
}

function stubParticipants(plan: Plan) {
  const calls: string[] = [];
  const gate = new Gate();
  const commitGate = { gate: undefined as Gate | undefined };
  const failures = { ...plan.commitFailures };
  const vote = async (req: PrepareRequest): Promise<Vote> => {
    const b = plan.prepare?.[req.participant] ?? 'yes';
    if (b === 'no') return { vote: 'no', type: 'InsufficientFunds', reason: `${req.participant} said no` };
    if (b === 'error') throw ApplicationFailure.nonRetryable(`${req.participant} broke`, 'InvalidInput');
    // unreachable: every attempt fails like a lost connection, so no vote ever arrives; the retries' backoff
    // and the vote timeout are skipped by the test server.
    if (b === 'unreachable') throw new Error(`${req.participant}: connection refused`);
    if (b === 'gate') await heldAt(gate, req.gid);
    if (b === 'already-committed') return { vote: 'yes', state: 'already-committed' };
    return { vote: 'yes', state: 'prepared' };
  };
  const phaseTwo = (name: string, state: 'committed' | 'rolled-back') => async (ref: BranchRef) => {
    calls.push(`${name}:${ref.participant}`);
    if (name === 'commit' || name === 'doCommit') {
      await commitGate.gate?.wait(ref.gid);
      const left = failures[ref.participant] ?? 0;
      if (left > 0) {
        failures[ref.participant] = left - 1;
        throw new Error(`${ref.participant}: connection refused`);
      }
    }
    return { state };
  };
  const activities = {
    async prepareBranch(req: PrepareRequest) {
      calls.push(`prepare:${req.participant}`);
      return vote(req);
    },
    commitBranch: phaseTwo('commit', 'committed'),
    rollbackBranch: phaseTwo('rollback', 'rolled-back'),
    async canCommit(req: PrepareRequest) {
      calls.push(`canCommit:${req.participant}`);
      return vote(req);
    },
    preCommit(ref: BranchRef) {
      calls.push(`preCommit:${ref.participant}`);
      if (plan.prepare?.[ref.participant] === 'unreachable')
        return Promise.reject(new Error(`${ref.participant}: connection refused`));
      return Promise.resolve(
        plan.refusePreCommit?.includes(ref.participant)
          ? { state: 'refused', reason: 'its wait timeout passed' }
          : { state: 'pre-committed' },
      );
    },
    doCommit: phaseTwo('doCommit', 'committed'),
    abortBranch: phaseTwo('abort', 'rolled-back'),
  };
  return {
    calls,
    gate,
    commitGate,
    queues: {
      [TASK_QUEUES.bankA]: activities,
      [TASK_QUEUES.bankB]: activities,
      [TASK_QUEUES.outbox]: { ...activities, ...stubCoordinatorLog(plan.earlier) },
    },
  };
}

const of = (calls: string[], kind: string): string[] =>
  calls
    .filter((c) => c.startsWith(`${kind}:`))
    .map((c) => c.slice(kind.length + 1))
    .sort();
const ALL = ['bank-a', 'bank-b', 'outbox'];

describe('2PC coordinator (time-skipping, stubbed participants)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await timeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  async function run(
    plan: Plan,
    drive?: (
      h: WorkflowHandle<typeof transfer2pc>,
      stubs: ReturnType<typeof stubParticipants>,
    ) => Promise<void>,
    options: CoordinatorOptions = {},
    workflow: 'transfer2pc' | 'transfer3pc' = 'transfer2pc',
  ): Promise<{ result: TransferResult; calls: string[]; skippedMs: number }> {
    const stubs = stubParticipants(plan);
    const input: TransferInput = {
      ref: uniqueId('u'),
      from: { bank: 'bank-a', account: 'alice' },
      to: { bank: 'bank-b', account: 'bob' },
      amountCents: 1000,
      options: { searchAttributes: false, ...options },
    };
    const startedAt = await env.currentTimeMs();
    const result = await withWorkers(env.nativeConnection, stubs.queues, async () => {
      const h = await env.client.workflow.start<typeof transfer2pc>(workflow, {
        taskQueue: TASK_QUEUES.orchestration,
        workflowId: transferWorkflowId(input.ref),
        args: [input],
      });
      if (drive) await drive(h, stubs);
      return h.result();
    });
    // Workflow time the server skipped through (the vote timer), not wall time: no timing assertion under load.
    return { result, calls: stubs.calls, skippedMs: (await env.currentTimeMs()) - startedAt };
  }

  it('all vote yes -> commit on every participant, no rollback', async () => {
    const { result, calls } = await run({});
    assert.equal(result.status, 'committed');
    assert.equal(result.reason, 'every participant voted yes');
    assert.deepEqual(of(calls, 'prepare'), ALL);
    assert.deepEqual(of(calls, 'commit'), ALL);
    assert.deepEqual(of(calls, 'rollback'), []);
    assert.deepEqual(result.anomalies, []);
  });

  for (const voter of ALL) {
    it(`${voter} votes no -> abort: every participant rolled back, including the no voter`, async () => {
      const { result, calls } = await run({ prepare: { [voter]: 'no' } });
      assert.equal(result.status, 'aborted');
      assert.match(result.reason ?? '', new RegExp(`^${voter} voted no`));
      assert.deepEqual(of(calls, 'rollback'), ALL);
      assert.deepEqual(of(calls, 'commit'), []);
    });
  }

  it('a prepare that fails (not a vote) -> abort everywhere', async () => {
    const { result, calls } = await run({ prepare: { outbox: 'error' } });
    assert.equal(result.status, 'aborted');
    assert.match(result.reason ?? '', /outbox failed to vote: InvalidInput/);
    assert.deepEqual(of(calls, 'rollback'), ALL);
  });

  it('vote timeout -> abort, including the participant whose outcome is unknown (time-skipped)', async () => {
    const { result, calls, skippedMs } = await run({ prepare: { 'bank-b': 'unreachable' } });
    assert.equal(result.status, 'aborted');
    assert.match(result.reason ?? '', /^vote timeout \(30s\) waiting for bank-b/);
    const b = result.participants.find((p) => p.name === 'bank-b')!;
    assert.equal(b.vote, 'unknown');
    assert.deepEqual(of(calls, 'rollback'), ALL);
    assert.deepEqual(of(calls, 'commit'), []);
    assert.ok(skippedMs >= 30_000, `the 30s vote timer fired in skipped time (${skippedMs}ms)`);
  });

  it('commit retries until done and never turns into an abort', async () => {
    const { result, calls } = await run({ commitFailures: { 'bank-b': 2, outbox: 1 } });
    assert.equal(result.status, 'committed');
    assert.equal(of(calls, 'commit').filter((p) => p === 'bank-b').length, 3);
    assert.equal(of(calls, 'commit').filter((p) => p === 'outbox').length, 2);
    assert.deepEqual(of(calls, 'rollback'), []);
    assert.ok(result.participants.every((p) => p.outcome === 'committed'));
  });

  it('presumeAbort (the sweeper) before the decision -> the coordinator decides abort itself', async () => {
    const { result, calls } = await run({ prepare: { outbox: 'gate' } }, async (h, stubs) => {
      await waitFor('outbox prepare to start', () => stubs.gate.arrived.length > 0);
      const answer = await h.executeUpdate(presumeAbortUpdate, { args: [{ reason: 'test sweeper' }] });
      assert.equal(answer.decision, 'abort');
      stubs.gate.open();
    });
    assert.equal(result.status, 'aborted');
    assert.match(result.reason ?? '', /presumed abort: test sweeper/);
    assert.deepEqual(of(calls, 'rollback'), ALL);
    assert.deepEqual(of(calls, 'commit'), []);
  });

  it('presumeAbort after a commit decision is answered with commit (the sweeper then commits)', async () => {
    const { result } = await run({}, async (h, stubs) => {
      stubs.commitGate.gate = new Gate();
      const gate = stubs.commitGate.gate;
      await waitFor('phase two to start', () => gate.arrived.length > 0);
      const answer = await h.executeUpdate(presumeAbortUpdate, { args: [{ reason: 'test sweeper' }] });
      assert.equal(answer.decision, 'commit');
      gate.open();
    });
    assert.equal(result.status, 'committed');
  });

  it('cancelled before the decision -> abort; cancelled after a commit decision -> still commits', async () => {
    const before = await run({ prepare: { 'bank-a': 'gate' } }, async (h, stubs) => {
      await waitFor('bank-a prepare to start', () => stubs.gate.arrived.length > 0);
      await h.cancel();
      stubs.gate.open();
    });
    assert.equal(before.result.status, 'aborted');
    assert.match(before.result.reason ?? '', /cancelled/);
    assert.deepEqual(of(before.calls, 'rollback'), ALL);

    const afterDecision = await run({}, async (h, stubs) => {
      stubs.commitGate.gate = new Gate();
      const gate = stubs.commitGate.gate;
      await waitFor('phase two to start', () => gate.arrived.length > 0);
      assert.equal((await h.query(coordinatorStateQuery)).decision, 'commit');
      await h.cancel();
      gate.open();
    });
    assert.equal(afterDecision.result.status, 'committed');
    assert.deepEqual(of(afterDecision.calls, 'rollback'), []);
  });

  it('item 1: a branch already committed forces commit, though another participant never votes', async () => {
    const { result, calls } = await run({
      prepare: { 'bank-a': 'already-committed', 'bank-b': 'unreachable' },
    });
    assert.equal(result.decision, 'commit');
    assert.match(result.reason ?? '', /already committed/);
    assert.deepEqual(of(calls, 'rollback'), []);
    assert.deepEqual(of(calls, 'commit'), ALL);
  });

  it('item 1: a branch already committed forces commit even when the coordinator is cancelled first', async () => {
    const { result, calls } = await run(
      { prepare: { 'bank-a': 'already-committed', outbox: 'gate' } },
      async (h, stubs) => {
        await waitFor('outbox prepare to start', () => stubs.gate.arrived.length > 0);
        await waitFor('bank-a to vote', async () =>
          (await h.query(coordinatorStateQuery)).participants.some((p) => p.vote === 'yes'),
        );
        await h.cancel();
        stubs.gate.open();
      },
    );
    assert.equal(result.decision, 'commit');
    assert.deepEqual(of(calls, 'rollback'), []);
  });

  it('item 1: a decision an earlier run recorded is finished without asking for votes again', async () => {
    const { result, calls } = await run({
      earlier: { decision: 'commit', reason: 'every participant voted yes' },
    });
    assert.equal(result.decision, 'commit');
    assert.match(result.reason ?? '', /decided by an earlier run/);
    assert.deepEqual(of(calls, 'prepare'), []);
    assert.deepEqual(of(calls, 'commit'), ALL);
  });

  describe('3PC coordinator', () => {
    it('all yes -> can-commit, pre-commit, do-commit on every participant', async () => {
      const { result, calls } = await run({}, undefined, {}, 'transfer3pc');
      assert.equal(result.status, 'committed');
      assert.deepEqual(of(calls, 'canCommit'), ALL);
      assert.deepEqual(of(calls, 'preCommit'), ALL);
      assert.deepEqual(of(calls, 'doCommit'), ALL);
      assert.deepEqual(of(calls, 'abort'), []);
    });

    it('a no at can-commit -> abort, nothing pre-committed', async () => {
      const { result, calls } = await run({ prepare: { 'bank-b': 'no' } }, undefined, {}, 'transfer3pc');
      assert.equal(result.status, 'aborted');
      assert.deepEqual(of(calls, 'preCommit'), []);
      assert.deepEqual(of(calls, 'abort'), ALL);
    });

    it('a refused pre-commit (the participant already timed out) -> abort everywhere', async () => {
      const { result, calls } = await run({ refusePreCommit: ['outbox'] }, undefined, {}, 'transfer3pc');
      assert.equal(result.status, 'aborted');
      assert.match(result.reason ?? '', /outbox refused pre-commit/);
      assert.deepEqual(of(calls, 'doCommit'), []);
      assert.deepEqual(of(calls, 'abort'), ALL);
    });

    it('a reset run: a branch already committed forces commit at once, though another participant never answers', async () => {
      // The earlier run decided commit; bank-b committed, bank-a (pre-committed) is down: a pre-commit round
      // would time out on bank-a and abort, rolling back bank-a's debit under bank-b's committed credit.
      const { result, calls } = await run(
        { prepare: { 'bank-b': 'already-committed', 'bank-a': 'unreachable' } },
        undefined,
        {},
        'transfer3pc',
      );
      assert.equal(result.decision, 'commit');
      assert.match(result.reason ?? '', /already committed/);
      assert.deepEqual(of(calls, 'preCommit'), []);
      assert.deepEqual(of(calls, 'abort'), []);
      assert.deepEqual(of(calls, 'doCommit'), ALL);
    });

    it('can-commit vote timeout -> abort (time-skipped)', async () => {
      const { result, skippedMs } = await run(
        { prepare: { 'bank-a': 'unreachable' } },
        undefined,
        {},
        'transfer3pc',
      );
      assert.equal(result.status, 'aborted');
      assert.match(result.reason ?? '', /vote timeout/);
      assert.ok(skippedMs >= 30_000, `the vote timer fired in skipped time (${skippedMs}ms)`);
    });
  });
});
