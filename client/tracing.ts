// Tracing for the CLI: with OTEL_EXPORTER_OTLP_ENDPOINT set, the command that starts a transaction (order place,
// transfer, ...) opens its trace and hands the context to the workflow in the start request's headers, so the
// workflow, its activities and the participants' queries join it (services/tracing.ts, workers/tracing.ts).
// Off, nothing OpenTelemetry is loaded, so the CLI starts as fast as before.
import type { ClientInterceptors } from '@temporalio/client';
import type * as ClientOtel from '@temporalio/interceptors-opentelemetry/lib/client';
import type * as TracingModule from '../services/tracing';

export function clientTracingInterceptors(
  env: NodeJS.ProcessEnv = process.env,
): ClientInterceptors | undefined {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return undefined;
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { setupTracing } = require('../services/tracing') as typeof TracingModule;
  const { OpenTelemetryWorkflowClientInterceptor } =
    require('@temporalio/interceptors-opentelemetry/lib/client') as typeof ClientOtel;
  /* eslint-enable @typescript-eslint/no-require-imports */
  const t = setupTracing({ serviceName: 'settle-cli', env });
  return t ? { workflow: [new OpenTelemetryWorkflowClientInterceptor({ tracer: t.tracer })] } : undefined;
}

/** Export the CLI's spans before the process exits (a no-op when tracing is off). */
export async function flushClientTracing(): Promise<void> {
  if (!process.env.OTEL_EXPORTER_OTLP_ENDPOINT && !process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { tracing } = require('../services/tracing') as typeof TracingModule;
  await tracing()?.shutdown();
}
