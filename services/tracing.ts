// OpenTelemetry tracing for every Settle process (CLI, workers): one trace per transaction from the command that
// starts it, through the workflow and each activity and compensation, into each participant's database queries.
// Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set (then spans go over OTLP/HTTP) or a caller hands in its own span
// processor (tests collect spans in memory). No Temporal here: workers/tracing.ts and client/tracing.ts add the
// SDK's interceptors on top.
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type ContextManager,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Pool, PoolClient } from 'pg';

/** Span attribute names Settle adds (beside the SDK's temporalWorkflowId / temporalActivityId). */
export const ATTR = {
  workflowId: 'settle.workflow_id',
  step: 'settle.step',
  participant: 'settle.participant',
  gid: 'settle.gid',
} as const;

/** Keeps the active span across awaits (what @opentelemetry/context-async-hooks does, on node's AsyncLocalStorage). */
class AsyncLocalStorageContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.storage.run(ctx, () => fn.apply(thisArg, args));
  }
  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const run = (...args: unknown[]): unknown =>
      this.with(ctx, () => (target as (...a: unknown[]) => unknown)(...args));
    return run as T;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.storage.disable();
    return this;
  }
}

export interface Tracing {
  tracer: Tracer;
  resource: Resource;
  spanProcessor: SpanProcessor;
  /** Flush what is buffered and stop exporting. */
  shutdown(): Promise<void>;
}

let current: Tracing | undefined;

/** The process's tracing, set up once; undefined when off. */
export function tracing(): Tracing | undefined {
  return current;
}

/**
 * Turn tracing on for this process: with `spanProcessor` (tests), or over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT (or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set. Returns undefined, and changes nothing, when neither is given.
 */
export function setupTracing(
  opts: { serviceName: string; spanProcessor?: SpanProcessor; env?: NodeJS.ProcessEnv } = {
    serviceName: 'settle',
  },
): Tracing | undefined {
  if (current) return current;
  const env = opts.env ?? process.env;
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!opts.spanProcessor && !endpoint) return undefined;
  const resource = new Resource({ 'service.name': env.OTEL_SERVICE_NAME || opts.serviceName });
  // The exporter reads the endpoint, headers and timeout from the standard OTEL_EXPORTER_OTLP_* variables.
  const spanProcessor = opts.spanProcessor ?? new BatchSpanProcessor(new OTLPTraceExporter());
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register({
    contextManager: new AsyncLocalStorageContextManager(),
    propagator: new W3CTraceContextPropagator(),
  });
  current = {
    tracer: trace.getTracer('settle'),
    resource,
    spanProcessor,
    shutdown: async () => {
      await provider.shutdown().catch(() => undefined);
      trace.disable();
      context.disable();
      propagation.disable();
      current = undefined;
    },
  };
  return current;
}

const SETTLE_ATTRS = Symbol.for('settle.trace-attributes');
type SettleAttributes = Partial<Record<(typeof ATTR)[keyof typeof ATTR], string>>;

/** Run fn with Settle's attributes (workflow id, step, participant, gid) visible to the spans started inside it. */
export function withSettleAttributes<T>(attrs: SettleAttributes, fn: () => T): T {
  return context.with(context.active().setValue(SETTLE_ATTRS, attrs), fn);
}

function activeSettleAttributes(): SettleAttributes {
  return (context.active().getValue(SETTLE_ATTRS) as SettleAttributes | undefined) ?? {};
}

type QueryFn = (...args: unknown[]) => unknown;

/**
 * Every query a service's pool runs inside a traced operation becomes a `pg <service>` span under it, carrying the
 * operation's Settle attributes (queries outside any trace, such as the relays' polling, are not traced).
 */
export function tracePool(pool: Pool, service: string): void {
  const traceClient = (client: PoolClient): void => {
    const marked = client as unknown as { __settleTraced?: boolean };
    if (marked.__settleTraced) return;
    marked.__settleTraced = true;
    const database = (client as unknown as { database?: string }).database ?? service;
    const original = client.query.bind(client) as unknown as QueryFn;
    const traced: QueryFn = (...args) => {
      const first = args[0] as { text?: string; submit?: unknown } | string | undefined;
      const t = tracing();
      if (!t || !trace.getSpan(context.active()) || (typeof first === 'object' && first?.submit))
        return original(...args);
      const text = typeof first === 'string' ? first : (first?.text ?? '');
      const span = t.tracer.startSpan(`pg ${service}`, {
        kind: SpanKind.CLIENT,
        attributes: {
          ...activeSettleAttributes(),
          [ATTR.participant]: service,
          'db.system': 'postgresql',
          'db.name': database,
          'db.statement': text.slice(0, 300),
        },
      });
      const end = (err?: unknown): void => {
        if (err) span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        span.end();
      };
      const last = args[args.length - 1];
      if (typeof last === 'function') {
        args[args.length - 1] = (err: unknown, res: unknown) => {
          end(err);
          (last as (e: unknown, r: unknown) => void)(err, res);
        };
        return original(...args);
      }
      const result = original(...args) as Promise<unknown>;
      result.then(
        () => end(),
        (err: unknown) => end(err),
      );
      return result;
    };
    (client as unknown as { query: QueryFn }).query = traced;
  };
  // Wrap each client as it is handed out (pool.query goes through connect too), including clients the pool
  // opened before tracing was turned on.
  const connect = pool.connect.bind(pool) as (cb?: (...a: unknown[]) => void) => Promise<PoolClient> | void;
  (pool as unknown as { connect: typeof connect }).connect = (cb) => {
    if (typeof cb === 'function')
      return connect((err: unknown, client: unknown, done: unknown) => {
        if (!err && client) traceClient(client as PoolClient);
        cb(err, client, done);
      });
    return (connect() as Promise<PoolClient>).then((client) => (traceClient(client), client));
  };
}
