// Names shared by the client, workflows, workers and tests. Imports nothing Node-only: workflow code uses it.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** One task queue per participant service, plus one for orchestration (the workflows). */
export const TASK_QUEUES = {
  orchestration: 'settle-orchestration',
  orders: 'settle-orders',
  inventory: 'settle-inventory',
  payments: 'settle-payments',
  notifications: 'settle-notifications',
  bankA: 'settle-bank-a',
  bankB: 'settle-bank-b',
  tcc: 'settle-tcc',
  /** The 2PC message-queue participant: transfer events prepared in an outbox table. */
  outbox: 'settle-outbox',
  /** Trip booking (flights, hotels, cars, traveller payments): the second saga on the saga library. */
  trip: 'settle-trip',
} as const;
export type TaskQueueName = (typeof TASK_QUEUES)[keyof typeof TASK_QUEUES];

/**
 * The benchmark's no-I/O activities (`npm run bench`), one queue per mirrored service so the `engine` and
 * `baseline` workloads have the order saga's exact queue topology; `memory` is polled only by the bench's
 * main-thread worker that measures the heap per cached workflow.
 */
export const BENCH_TASK_QUEUES = {
  orders: 'settle-bench-orders',
  inventory: 'settle-bench-inventory',
  payments: 'settle-bench-payments',
  notifications: 'settle-bench-notifications',
  memory: 'settle-bench-memory',
} as const;

/** Custom search attributes: registered on the dev server at start, set by every workflow. */
export const SA = {
  pattern: defineSearchAttributeKey('SettlePattern', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('SettleStatus', SearchAttributeType.KEYWORD),
  businessKey: defineSearchAttributeKey('SettleBusinessKey', SearchAttributeType.KEYWORD),
  needsOperator: defineSearchAttributeKey('SettleNeedsOperator', SearchAttributeType.BOOL),
} as const;
export const SEARCH_ATTRIBUTES = Object.values(SA);

export type Pattern = 'saga' | '2pc' | '3pc' | 'tcc' | 'choreography';
