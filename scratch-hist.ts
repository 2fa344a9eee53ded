import { Client, Connection } from '@temporalio/client';
(async () => {
  const c = new Client({ connection: await Connection.connect({ address: '127.0.0.1:17233' }) });
  const raw = await c.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId: 'order-ui-1' } });
  const walk = (n: any, path: string) => {
    if (!n || typeof n !== 'object' || n instanceof Uint8Array) return;
    if (n.metadata && n.metadata.encoding instanceof Uint8Array) console.log(path, Buffer.from(n.metadata.encoding).toString());
    for (const [k, v] of Object.entries(n)) walk(v, path + '.' + k);
  };
  walk(raw.history, 'h');
  await c.connection.close();
})();
