// The pure parts of the operator commands: the visibility queries they build, how statuses are reported, what
// `stuck` says is wrong, what `watch` prints for a change.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CliError, EXIT, helpText, joinNegativeValues } from '../../client/cli-kit';
import { amountFlag, moneyInText } from '../../client/money';
import { buildListQuery, list, validatePattern, validateStatus } from '../../client/commands/list';
import { explain } from '../../client/commands/stuck';
import { describeChanges, endedWell, type WatchEvent } from '../../client/commands/watch';
import { effectiveStatus } from '../../client/transactions';
import type { LedgerEntry } from '../../shared';

const NOW = Date.parse('2026-01-02T03:04:05.000Z');

describe('list query', () => {
  it('restricts to Settle transactions and adds each filter', () => {
    assert.equal(buildListQuery({}), 'SettlePattern IS NOT NULL');
    assert.equal(
      buildListQuery({ pattern: 'saga', status: 'compensated', olderThanMs: 5 * 60_000, now: NOW }),
      "SettlePattern IS NOT NULL AND SettlePattern = 'saga' AND SettleStatus = 'compensated' AND StartTime < '2026-01-02T02:59:05.000Z'",
    );
  });

  it('in-progress statuses also require a running execution (a terminated saga still carries "running")', () => {
    assert.equal(
      buildListQuery({ status: 'running' }),
      "SettlePattern IS NOT NULL AND SettleStatus = 'running' AND ExecutionStatus = 'Running'",
    );
    assert.equal(
      buildListQuery({ status: 'needs-operator' }),
      "SettlePattern IS NOT NULL AND SettleStatus = 'needs-operator' AND ExecutionStatus = 'Running'",
    );
  });

  it('maps statuses only Temporal knows to ExecutionStatus', () => {
    assert.equal(
      buildListQuery({ status: 'terminated' }),
      "SettlePattern IS NOT NULL AND ExecutionStatus = 'Terminated'",
    );
    assert.equal(
      buildListQuery({ status: 'timed-out' }),
      "SettlePattern IS NOT NULL AND ExecutionStatus = 'TimedOut'",
    );
    // One word for Temporal's cancellation; its own spelling is an alias.
    for (const word of ['cancelled', 'canceled'])
      assert.equal(
        buildListQuery({ status: word }),
        "SettlePattern IS NOT NULL AND ExecutionStatus = 'Canceled'",
      );
    assert.equal(
      buildListQuery({ status: 'pre-committing' }),
      "SettlePattern IS NOT NULL AND SettleStatus = 'pre-committing' AND ExecutionStatus = 'Running'",
    );
  });

  it('builds the stuck queries', () => {
    assert.equal(
      buildListQuery({ needsOperator: true, runningOnly: true }),
      "SettlePattern IS NOT NULL AND SettleNeedsOperator = true AND ExecutionStatus = 'Running'",
    );
    assert.equal(
      buildListQuery({ runningOnly: true, olderThanMs: 1000, now: NOW }),
      "SettlePattern IS NOT NULL AND ExecutionStatus = 'Running' AND StartTime < '2026-01-02T03:04:04.000Z'",
    );
  });

  it('validates pattern and status before querying', () => {
    assert.equal(validatePattern('2pc'), '2pc');
    const usage = (e: unknown): boolean => e instanceof CliError && e.exitCode === EXIT.usage;
    assert.throws(() => validatePattern('sgaa'), usage);
    assert.equal(validateStatus('needs-operator'), 'needs-operator');
    for (const bad of ["x' OR 1=1", 'Running', 'a b', '', 'bogus'])
      assert.throws(() => validateStatus(bad), usage, bad);
  });

  it('a status finds every stored spelling of it, pattern by pattern (list --pattern tcc --status committed)', () => {
    assert.equal(
      buildListQuery({ pattern: 'tcc', status: 'committed' }),
      "SettlePattern IS NOT NULL AND SettlePattern = 'tcc' AND (SettleStatus = 'committed' OR (SettlePattern = 'tcc' AND SettleStatus = 'confirmed'))",
    );
    assert.equal(
      buildListQuery({ status: 'compensated' }),
      "SettlePattern IS NOT NULL AND (SettleStatus = 'compensated' OR (SettlePattern = 'choreography' AND SettleStatus = 'cancelled'))",
    );
    assert.equal(
      buildListQuery({ status: 'aborted', pattern: 'tcc' }),
      "SettlePattern IS NOT NULL AND SettlePattern = 'tcc' AND (SettleStatus = 'aborted' OR (SettlePattern = 'tcc' AND SettleStatus IN ('cancelled', 'expired')))",
    );
    // An old word still finds exactly what it used to.
    assert.equal(
      buildListQuery({ status: 'expired' }),
      "SettlePattern IS NOT NULL AND (SettlePattern = 'tcc' AND SettleStatus = 'expired')",
    );
  });

  it('leaves the outbox relays out of transaction lists unless asked for', () => {
    assert.equal(
      buildListQuery({ transactionsOnly: true }),
      "SettlePattern IS NOT NULL AND SettleStatus NOT IN ('relay')",
    );
    assert.equal(
      buildListQuery({ transactionsOnly: true, status: 'relay' }),
      "SettlePattern IS NOT NULL AND SettleStatus = 'relay'",
    );
    assert.equal(
      buildListQuery({ businessKey: 'o-1' }),
      "SettlePattern IS NOT NULL AND SettleBusinessKey = 'o-1'",
    );
  });
});

describe('status reporting', () => {
  it('trusts SettleStatus unless Temporal ended the workflow behind its back', () => {
    assert.equal(effectiveStatus('compensated', 'COMPLETED'), 'compensated');
    assert.equal(effectiveStatus('running', 'RUNNING'), 'running');
    assert.equal(effectiveStatus('running', 'TERMINATED'), 'terminated');
    assert.equal(effectiveStatus('compensating', 'TIMED_OUT'), 'timed-out');
    assert.equal(effectiveStatus(undefined, 'FAILED'), 'failed');
    assert.equal(effectiveStatus('needs-operator', 'RUNNING'), 'needs-operator');
    assert.equal(effectiveStatus('needs-operator', 'TERMINATED'), 'terminated');
    assert.equal(effectiveStatus('running', 'CANCELLED'), 'cancelled');
    // Older engines' words, in the pattern's vocabulary.
    assert.equal(effectiveStatus('confirmed', 'COMPLETED', 'tcc'), 'committed');
    assert.equal(effectiveStatus('cancelled', 'COMPLETED', 'tcc'), 'aborted');
    assert.equal(effectiveStatus('expired', 'COMPLETED', 'tcc'), 'aborted');
    assert.equal(effectiveStatus('confirmed', 'COMPLETED', 'choreography'), 'completed');
    assert.equal(effectiveStatus('cancelled', 'COMPLETED', 'choreography'), 'compensated');
    assert.equal(effectiveStatus('trying', 'TERMINATED', 'tcc'), 'terminated');
  });

  it('ended well only when closed normally and not left for an operator', () => {
    assert.equal(endedWell({ status: 'compensated', temporalStatus: 'COMPLETED', pattern: 'saga' }), true);
    assert.equal(endedWell({ status: 'aborted', temporalStatus: 'COMPLETED', pattern: '2pc' }), true);
    assert.equal(endedWell({ status: 'aborted', temporalStatus: 'COMPLETED', pattern: 'saga' }), false);
    assert.equal(endedWell({ status: 'terminated', temporalStatus: 'TERMINATED', pattern: 'saga' }), false);
  });
});

const entry = (e: Partial<LedgerEntry> & Pick<LedgerEntry, 'name'>): LedgerEntry => ({
  kind: 'step',
  status: 'completed',
  attempts: 0,
  ...e,
});

describe('stuck: why', () => {
  it('names the parked compensation and its error first', () => {
    const why = explain({
      status: 'needs-operator',
      ledger: [
        entry({ name: 'charge', status: 'failed', attempts: 1, lastError: 'InjectedFailure: x' }),
        entry({
          name: 'refundPayment',
          kind: 'compensation',
          status: 'needs-operator',
          attempts: 1,
          lastError: 'GatewayDown: refunds offline',
        }),
      ],
    });
    assert.deepEqual(why, {
      currentStep: 'refundPayment',
      why: '↩ refundPayment needs an operator: GatewayDown: refunds offline',
    });
  });

  it('names the running step with its activity retries', () => {
    const why = explain({
      status: 'running',
      ledger: [entry({ name: 'create' }), entry({ name: 'reserve', status: 'running' })],
      pendingActivities: [
        {
          activityType: 'reserveStock',
          state: 'SCHEDULED',
          attempt: 7,
          maximumAttempts: 20,
          lastFailure: 'connection refused',
        },
      ],
    });
    assert.deepEqual(why, {
      currentStep: 'reserve',
      why: 'reserve running (reserveStock attempt 7/20, last failure: connection refused)',
    });
  });

  it('says when the workflow could not answer', () => {
    assert.deepEqual(
      explain({ status: 'running', ledger: [], note: 'no worker answered the progress query' }),
      {
        why: 'no worker answered the progress query',
      },
    );
  });
});

describe('watch: changes', () => {
  const ev = (at: string, status: string, ledger: LedgerEntry[]): WatchEvent => ({
    workflowId: 'order-1',
    at,
    status,
    temporalStatus: 'RUNNING',
    ledger,
    done: false,
  });

  it('prints the first snapshot whole, then only what changed', () => {
    const first = ev('2026-01-02T03:04:05.100Z', 'running', [
      entry({ name: 'create' }),
      entry({ name: 'reserve', status: 'running' }),
    ]);
    assert.deepEqual(describeChanges(undefined, first), [
      '03:04:05.100  order-1 is running',
      '03:04:05.100    create                 completed',
      '03:04:05.100    reserve                running',
    ]);
    const second = ev('2026-01-02T03:04:06.200Z', 'compensating', [
      entry({ name: 'create' }),
      entry({ name: 'reserve', status: 'failed', attempts: 1, lastError: 'OutOfStock: none left' }),
      entry({ name: 'cancelOrder', kind: 'compensation', status: 'compensating' }),
    ]);
    assert.deepEqual(describeChanges(first, second), [
      '03:04:06.200  order-1 is compensating',
      '03:04:06.200    reserve                failed  (1 failed, OutOfStock: none left)',
      '03:04:06.200    ↩ cancelOrder          compensating',
    ]);
    assert.deepEqual(describeChanges(second, { ...second, at: '2026-01-02T03:04:07.000Z' }), []);
  });
});

describe('CLI polish', () => {
  it('says money in money, in messages participants wrote in cents', () => {
    assert.equal(
      moneyInText('insufficient balance: alice has 98050 cents, needs 100000'),
      'insufficient balance: alice has 980.50, needs 1000.00',
    );
    assert.equal(moneyInText('carol has 100 cents'), 'carol has 1.00');
    assert.equal(moneyInText('no money mentioned'), 'no money mentioned');
  });

  it('--amount -5 reaches our own validation, not the parser', () => {
    const options = { amount: { type: 'string' as const }, json: { type: 'boolean' as const } };
    assert.deepEqual(joinNegativeValues(['--amount', '-5', '--json'], options), ['--amount=-5', '--json']);
    assert.deepEqual(joinNegativeValues(['--json', '-h'], options), ['--json', '-h']);
    assert.throws(
      () => amountFlag('-5'),
      (e: unknown) =>
        e instanceof CliError &&
        e.exitCode === EXIT.usage &&
        /got '-5' \(it must be positive\)/.test(e.message),
    );
    assert.equal(amountFlag('9.99'), 999);
  });

  it('--help gives every option a description, its allowed values and its default', () => {
    const text = helpText(list);
    assert.match(text, /--pattern P +only this pattern; one of: saga, 2pc, 3pc, tcc, choreography\n/);
    assert.match(text, /--limit N +rows per page, 1-10000; default: 50\n/);
    assert.match(text, /--address HOST:PORT +Temporal frontend to talk to/);
  });
});
