// Prometheus gauges of the outbox relays, read from the outbox tables themselves (not from the relays, which
// may be the thing that is broken): dead letters per outbox, and relay lag = the age of the oldest unpublished
// event (0 when drained). A lag that keeps growing means a relay is missing, stalled or behind.
import { Runtime } from '@temporalio/worker';
import type { MetricMeter } from '@temporalio/common';
import type { Pools } from '../services/db';
import { outboxHealth, RELAY_OUTBOX } from '../services/outbox-relay';
import { RELAY_NAMES } from '../shared/relay';
import { GAUGES } from './metrics';

export function startOutboxGauges(
  pools: Pools,
  opts: { intervalMs?: number; log?: (msg: string) => void; meter?: MetricMeter } = {},
): { refresh(): Promise<void>; stop(): void } {
  const meter = opts.meter ?? Runtime.instance().metricMeter;
  const dead = meter.createGauge(
    GAUGES.outboxDeadLetters,
    'int',
    '1',
    'Outbox events dead-lettered, per outbox',
  );
  const lag = meter.createGauge(
    GAUGES.outboxRelayLag,
    'float',
    's',
    'Age of the oldest unpublished outbox event, per outbox (0 when drained)',
  );
  const failing = new Set<string>();
  const refresh = async (): Promise<void> => {
    await Promise.all(
      RELAY_NAMES.map(async (outbox) => {
        const { database, table } = RELAY_OUTBOX[outbox];
        try {
          const h = await outboxHealth(pools[database], table);
          dead.set(h.deadLetters, { outbox });
          lag.set(h.lagSeconds, { outbox });
          failing.delete(outbox);
        } catch (err) {
          if (!failing.has(outbox)) opts.log?.(`outbox gauges: ${outbox}: ${(err as Error).message}`);
          failing.add(outbox);
        }
      }),
    );
  };
  const timer = setInterval(() => void refresh(), opts.intervalMs ?? 15_000);
  timer.unref();
  void refresh();
  return { refresh, stop: () => clearInterval(timer) };
}
