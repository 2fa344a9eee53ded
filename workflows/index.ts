// Barrel for the worker's workflowsPath: every workflow type the orchestration worker runs.
export { orderSaga } from './order-saga';
