import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CliError, EXIT } from '../../client/cli-kit';
import { durationFlag, formatDuration, parseDuration } from '../../client/duration';

describe('durations on the command line', () => {
  it('parses units and combinations', () => {
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('2d'), 172_800_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('1d2h3m4s5ms'), 86_400_000 + 7_200_000 + 180_000 + 4_000 + 5);
  });

  it('rejects what is not a duration', () => {
    for (const bad of ['', '5', 'm', '5x', '1.5h', '-5m', '5 m', '5M', '1m2m', 'h1', '5mm', '1h 30m']) {
      assert.equal(parseDuration(bad), undefined, bad);
    }
  });

  it('turns bad flags into usage errors (nothing starts)', () => {
    assert.equal(durationFlag('older-than', undefined), undefined);
    assert.equal(durationFlag('older-than', '10m'), 600_000);
    for (const bad of ['5x', '0s', 'soon']) {
      assert.throws(
        () => durationFlag('older-than', bad),
        (e: unknown) =>
          e instanceof CliError && e.exitCode === EXIT.usage && e.message.includes('--older-than'),
      );
    }
    assert.throws(() => durationFlag('interval', '2m', { max: 60_000 }), /at most 1m/);
  });

  it('formats durations for tables', () => {
    assert.equal(formatDuration(250), '250ms');
    assert.equal(formatDuration(61_000), '1m1s');
    assert.equal(formatDuration(90_061_000), '1d1h1m1s');
    assert.equal(formatDuration(90_061_000, 2), '1d1h');
    assert.equal(parseDuration(formatDuration(5_400_000)), 5_400_000);
  });
});
