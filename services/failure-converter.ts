// With payload encryption on, failure messages and stack traces (which can name a customer: "insufficient
// balance: alice has ...") move into the failure's encoded attributes, so the codec encrypts them too.
// Loaded by path (DataConverter.failureConverterPath): by the worker, by clients, and bundled into the workflow
// sandbox, so it imports nothing Node-only.
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
