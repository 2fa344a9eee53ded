// What "nothing was written" means in a test: every table of every service database, row count and a digest
// of its rows, and the number of workflows the server knows. Compared before and after the thing under test.
import type { Client } from '@temporalio/client';
import { SERVICE_NAMES, type Pools } from '../../services/db';

export async function fingerprint(pools: Pools): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const s of SERVICE_NAMES) {
    const tables = await pools[s].query<{ t: string }>(
      `SELECT quote_ident(table_name) AS t FROM information_schema.tables
        WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
    );
    for (const { t } of tables.rows) {
      const r = await pools[s].query<{ n: string; h: string | null }>(
        `SELECT count(*) AS n, md5(string_agg(x::text, '|' ORDER BY x::text)) AS h FROM ${t} x`,
      );
      out[`${s}.${t}`] = `${r.rows[0]!.n}:${r.rows[0]!.h ?? ''}`;
    }
  }
  return out;
}

export async function workflowCount(client: Client): Promise<number> {
  return (await client.workflow.count()).count;
}
