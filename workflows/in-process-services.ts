// Workflow interceptor module for a worker that hosts the shop's services in its own process (the all-in-one
// host of `npm start` and the demo; workers/index.ts adds it): the order saga's steps, marked local-capable,
// then run as local activities on the orchestration worker (workflows/saga/placement.ts). A separate-process
// deployment does not add this module and keeps every step on its service's queue.
import type { WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { TASK_QUEUES } from '../shared';
import { declareHostedServices } from './saga/placement';

/** The services the all-in-one host runs beside the orchestrator (their activities are on its worker too). */
export const IN_PROCESS_SERVICE_QUEUES = [
  TASK_QUEUES.orders,
  TASK_QUEUES.inventory,
  TASK_QUEUES.payments,
  TASK_QUEUES.notifications,
];

// Declared before any workflow of the bundle runs (the factory runs first for every workflow).
export const interceptors: WorkflowInterceptorsFactory = () => {
  declareHostedServices(IN_PROCESS_SERVICE_QUEUES);
  return {};
};
