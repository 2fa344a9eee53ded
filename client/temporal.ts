// @temporalio/client, loaded on first use: it is most of the CLI's start-up time, and `settle --help`, the
// database commands and bad input never need it.
import type * as TemporalClientModule from '@temporalio/client';

export function temporalClient(): typeof TemporalClientModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@temporalio/client') as typeof TemporalClientModule;
}
