// Settle's saga engine: the workflow-side library every saga is built on.
//
//   const trip = defineSaga<TripInput>('trip')
//     .step('flight', { run: (c) => holdFlight(...), compensate: (c, held) => releaseFlight(...) })
//     .parallel('stay', (g) => g
//       .step('hotel', { run: (c) => holdHotel(...), compensate: (c) => releaseHotel(...) })
//       .step('car', { run: (c) => holdCar(...), compensate: (c) => releaseCar(...), timeout: '2m' }))
//     .pivot('pay', { run: ({ results }) => charge(results.flight.result.holdId, ...) })
//     .forward('email', { run: ({ results }) => sendItinerary(results.pay.result.paymentId) })
//     .build();
//   return runSaga(trip, input, { businessKey: input.tripId });
//
// Files, one concern each:
//   types.ts             step specs, the built definition, run options, durations
//   builder.ts           defineSaga and every shape rule (checked when the definition is built)
//   runner.ts            runSaga: stages, the pivot, forward-only steps after it
//   compensation.ts      the way back, in reverse order inside a non-cancellable scope
//   invoke.ts            invoke until done: engine-level backoff, then an operator
//   operator.ts          needs-operator parking and the resolveCompensation update
//   ledger.ts            the step ledger, progress query answer, current details
//   search-attributes.ts SettlePattern/BusinessKey/Status/NeedsOperator upserts
//   failures.ts          failure description, retryability, backoff, step deadlines
//
// Guarantees:
//  - a step's compensation is registered *before* its forward action runs: an action that timed out may
//    still have committed, so it is compensated too (the participant's barrier turns that into a recorded
//    no-op when nothing committed, and refuses the action if it arrives after its compensation);
//  - compensations run in reverse order (a parallel group's steps together), or all at once when asked,
//    inside a non-cancellable scope, so a cancelled saga is compensated rather than abandoned;
//  - the pivot runs to a known outcome even when the saga is cancelled; after it the saga only goes forward,
//    and forward steps are retried (durable timer backoff) until they succeed;
//  - a compensation (or post-pivot step) that still fails after its retry budget parks the saga in
//    `needs-operator` until an operator resolves it (retry / skip with a reason / abort), every decision
//    validated and recorded in history;
//  - the step ledger is queryable, mirrored into current details for the Web UI, and the status is a
//    search attribute (SettleStatus, SettleNeedsOperator).
export { defineSaga, ParallelGroup, SagaBuilder } from './builder';
export { runSaga } from './runner';
export {
  DEFAULT_FORWARD_ATTEMPTS,
  intervalMs,
  SagaDefinitionError,
  STEP_TIMEOUT,
  type BackoffPolicy,
  type CompensationReturn,
  type ForwardSpec,
  type Interval,
  type PivotSpec,
  type RunSagaOptions,
  type SagaCheckpoint,
  type SagaDefinition,
  type SagaStage,
  type StepContext,
  type StepSpec,
} from './types';
