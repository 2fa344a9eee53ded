// The local stack's dev server runs tuned (services/dev-server-tuning.ts): the merge of tuned defaults with a
// caller's values, the bench's `cli-defaults` / `no-eager` atoms, and a real dev server whose SQLite file is
// in WAL mode by default and in the CLI's rollback-journal mode with CLI_DEFAULTS.
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, readFileSync, readSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseTuning } from '../../bench/tuning';
import { CLI_DEFAULTS, devServerTuningArgs, TUNED_DYNAMIC_CONFIG } from '../../services/dev-server-tuning';
import { freePort } from '../../services/processes';
import { startDevServer, type DevServerOptions } from '../../services/temporal-server';

/** `--flag value` pairs of an argument list, for one flag. */
const values = (args: string[], flag: string): string[] =>
  args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));

test('tuned defaults: WAL + synchronous=NORMAL on a file database, fast queue readers always', () => {
  const args = devServerTuningArgs({});
  assert.deepEqual(values(args, '--sqlite-pragma').sort(), ['journal_mode=WAL', 'synchronous=NORMAL']);
  assert.deepEqual(values(args, '--dynamic-config-value').sort(), [
    'history.timerProcessorMaxPollRPS=1000',
    'history.transferProcessorMaxPollRPS=1000',
    'history.visibilityProcessorMaxPollRPS=1000',
  ]);
  const memory = devServerTuningArgs({ persistent: false });
  assert.deepEqual(values(memory, '--sqlite-pragma'), [], 'no journal pragmas for an in-memory database');
  assert.equal(values(memory, '--dynamic-config-value').length, Object.keys(TUNED_DYNAMIC_CONFIG).length);
});

test("a caller's pragma or value replaces the tuned one of the same key, never duplicates it", () => {
  const args = devServerTuningArgs({
    sqlitePragmas: ['Synchronous=OFF'],
    dynamicConfig: { 'history.transferProcessorMaxPollRPS': 20, 'matching.numTaskqueueReadPartitions': 1 },
  });
  assert.deepEqual(values(args, '--sqlite-pragma').sort(), ['journal_mode=WAL', 'synchronous=OFF']);
  const dc = values(args, '--dynamic-config-value');
  assert.ok(dc.includes('history.transferProcessorMaxPollRPS=20'));
  assert.ok(!dc.includes('history.transferProcessorMaxPollRPS=1000'));
  assert.ok(dc.includes('matching.numTaskqueueReadPartitions=1'));
  assert.throws(() => devServerTuningArgs({ sqlitePragmas: ['WAL'] }), /KEY=VALUE/);
});

test('bench atoms: default is tuned and eager; cli-defaults restores the CLI; no-eager turns eager off', () => {
  const d = parseTuning('default');
  assert.equal(d.eager, true);
  assert.deepEqual(d.sqlitePragmas, []);
  const cli = parseTuning('cli-defaults');
  const args = devServerTuningArgs({ sqlitePragmas: cli.sqlitePragmas, dynamicConfig: cli.dynamicConfig });
  assert.deepEqual(values(args, '--sqlite-pragma').sort(), ['journal_mode=DELETE', 'synchronous=FULL']);
  for (const [k, v] of Object.entries(CLI_DEFAULTS.dynamicConfig))
    assert.ok(values(args, '--dynamic-config-value').includes(`${k}=${v}`));
  assert.equal(parseTuning('no-eager').eager, false);
  // Later atoms win: cli-defaults+wal is the CLI with only WAL turned on.
  const mixed = parseTuning('cli-defaults+wal');
  assert.ok(
    values(devServerTuningArgs({ sqlitePragmas: mixed.sqlitePragmas }), '--sqlite-pragma').includes(
      'journal_mode=WAL',
    ),
  );
  assert.throws(() => parseTuning('cli-something'), /unknown tuning atom/);
  assert.throws(() => parseTuning('no-cache'), /unknown tuning atom/);
});

/** SQLite file header bytes 18/19 (write/read format version): 2 = WAL, 1 = rollback journal. */
function sqliteFormat(file: string): [number, number] {
  const fd = openSync(file, 'r');
  try {
    const header = Buffer.alloc(100);
    readSync(fd, header, 0, 100, 0);
    return [header[18]!, header[19]!];
  } finally {
    closeSync(fd);
  }
}

test('a dev server started with no options runs its SQLite file in WAL mode; CLI_DEFAULTS keeps the journal', async () => {
  const root = mkdtempSync(join(tmpdir(), 'settle-devtuning-'));
  try {
    const cases: [string, Partial<DevServerOptions>, number[]][] = [
      ['tuned', {}, [2, 2]],
      [
        'cli',
        { sqlitePragmas: [...CLI_DEFAULTS.sqlitePragmas], dynamicConfig: CLI_DEFAULTS.dynamicConfig },
        [1, 1],
      ],
    ];
    for (const [name, extra, format] of cases) {
      const dataDir = join(root, name);
      const server = await startDevServer({ dataDir, port: await freePort(), ...extra });
      try {
        const cmdline = readFileSync(`/proc/${server.pid}/cmdline`, 'utf8').split('\0');
        const rps = name === 'tuned' ? 1000 : 20;
        assert.ok(cmdline.includes(`history.transferProcessorMaxPollRPS=${rps}`), cmdline.join(' '));
        assert.deepEqual(sqliteFormat(join(dataDir, 'temporal.db')), format, `${name}: SQLite journal mode`);
      } finally {
        await server.stop();
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
