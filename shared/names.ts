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
} as const;
export type TaskQueueName = (typeof TASK_QUEUES)[keyof typeof TASK_QUEUES];

/** Custom search attributes: registered on the dev server at start, set by every workflow. */
export const SA = {
  pattern: defineSearchAttributeKey('SettlePattern', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('SettleStatus', SearchAttributeType.KEYWORD),
  businessKey: defineSearchAttributeKey('SettleBusinessKey', SearchAttributeType.KEYWORD),
  needsOperator: defineSearchAttributeKey('SettleNeedsOperator', SearchAttributeType.BOOL),
} as const;
export const SEARCH_ATTRIBUTES = Object.values(SA);

export type Pattern = 'saga' | '2pc' | '3pc' | 'tcc';
