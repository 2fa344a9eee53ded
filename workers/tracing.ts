// The SDK's OpenTelemetry interceptors on Settle's workers (services/tracing.ts turns tracing on): activities run in
// a span continued from the workflow's, carrying Settle's attributes (workflow id, step, participant, gid) for the
// database spans below them; workflow spans are made in the workflow sandbox (the interceptor module goes into the
// workflow bundle) and leave it through the exporter sink installed here.
import type { Context as ActivityContext } from '@temporalio/activity';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/worker';
import type {
  ActivityInboundCallsInterceptor,
  ActivityInterceptors,
  WorkerOptions,
} from '@temporalio/worker';
import { trace, context } from '@opentelemetry/api';
import { ATTR, tracePool, withSettleAttributes, type Tracing } from '../services/tracing';
import type { Pools, ServiceName } from '../services/db';
import { TASK_QUEUES } from '../shared';

/** The workflow-side interceptors (inbound, outbound, internals), for workflowModules / workflowInterceptorModules. */
export const OTEL_WORKFLOW_MODULE =
  require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

const QUEUE_PARTICIPANT: Record<string, string> = Object.fromEntries(
  Object.entries(TASK_QUEUES).map(([key, queue]) => [queue, key]),
);

/** Inside the SDK's activity span: name the step, participant and gid on it and for the queries it runs. */
class SettleActivityAttributes implements ActivityInboundCallsInterceptor {
  constructor(private readonly ctx: ActivityContext) {}
  execute: ActivityInboundCallsInterceptor['execute'] = (input, next) => {
    const info = this.ctx.info;
    const first = input.args[0] as { gid?: unknown } | undefined;
    const attrs = {
      [ATTR.workflowId]: info.workflowExecution?.workflowId ?? '',
      [ATTR.step]: info.activityType,
      [ATTR.participant]: QUEUE_PARTICIPANT[info.taskQueue] ?? info.taskQueue,
      ...(typeof first?.gid === 'string' ? { [ATTR.gid]: first.gid } : {}),
    };
    trace.getSpan(context.active())?.setAttributes(attrs);
    return withSettleAttributes(attrs, () => next(input));
  };
}

/** What a worker adds when tracing is on: the activity interceptors and the workflow span sink. */
export function workerTracing(t: Tracing): {
  activity: NonNullable<NonNullable<WorkerOptions['interceptors']>['activity']>;
  sinks: NonNullable<WorkerOptions['sinks']>;
} {
  return {
    activity: [
      (ctx: ActivityContext): ActivityInterceptors => ({
        inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer: t.tracer }),
        outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
      }),
      // Listed after the SDK's, so it runs inside the activity span the SDK's opened.
      (ctx: ActivityContext): ActivityInterceptors => ({ inbound: new SettleActivityAttributes(ctx) }),
    ],
    sinks: { exporter: makeWorkflowExporter(t.spanProcessor, t.resource) },
  };
}

/** Trace every service pool's queries (once per pool). */
export function traceServicePools(pools: Pools): void {
  for (const [service, pool] of Object.entries(pools) as [ServiceName, Pools[ServiceName]][]) {
    if (!pool || (pool as { __settleTraced?: boolean }).__settleTraced) continue;
    (pool as { __settleTraced?: boolean }).__settleTraced = true;
    tracePool(pool, service);
  }
}
