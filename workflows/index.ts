// Barrel for the worker's workflowsPath: every workflow type the production orchestration worker runs, and
// nothing else. Generic coordinators (twoPhaseCommit: any participants, any ops) and the bench's workflows would
// let anyone who can start a workflow move money without a business check, so they are not registered here:
// the bench bundles bench/workflows.ts, which adds them.
export { orderSaga } from './order-saga';
export { tripSaga } from './trip-saga';
export { choreographedOrder } from './choreography';
export { outboxRelay, relaySupervisor } from './relay';
export { inDoubtSweeper } from './two-phase';
export { transfer2pc, transferK } from './transfer-2pc';
export { transfer3pc } from './three-phase';
export { transferTcc } from './tcc';
