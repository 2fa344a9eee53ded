// One PostgreSQL role per service database on the embedded server: a login that is not a superuser, cannot
// create roles or databases, owns its own database (so its migrations run as itself) and is the only role
// besides the superuser allowed to connect to it. A compromised service (or a leaked service password) then
// reaches that one database, and none of the superuser's powers (pg_read_file, COPY ... PROGRAM, other
// databases). Passwords are per install, 0600 files in the data dir's secrets folder.
import { Client } from 'pg';
import type { ServiceName } from './db';
import { databaseName, SERVICE_NAMES, timeoutOptions } from './db';
import { installSecret } from './secrets';

const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;
/** Secrets are hex (installSecret), so quoting them as a literal cannot break out. */
const literal = (hex: string): string => {
  if (!/^[0-9a-f]+$/.test(hex)) throw new Error('a role password must be hex');
  return `'${hex}'`;
};

export interface ServiceCredentials {
  user: string;
  password: string;
}

/** The role of a service's database is named after it (settle_bank_a, or <test prefix>_bank_a). */
export function serviceCredentials(
  dataDir: string,
  service: ServiceName,
  prefix?: string,
): ServiceCredentials {
  const user = databaseName(service, prefix);
  return { user, password: installSecret(dataDir, `pg-role-${user}`) };
}

/** The URL a service connects with: its own role and database on the server `adminUrl` points at. */
export function serviceUrl(adminUrl: string, creds: ServiceCredentials): string {
  const u = new URL(adminUrl);
  u.username = creds.user;
  u.password = creds.password;
  u.pathname = `/${creds.user}`;
  return u.toString();
}

async function withAdmin<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url, ...timeoutOptions() });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * Create or update the service roles and hand each its database (which must exist). Objects an earlier version
 * created as the superuser are given to the role, so its migrations and queries keep working.
 */
export async function ensureServiceRoles(
  adminUrl: string,
  dataDir: string,
  prefix?: string,
): Promise<Record<ServiceName, ServiceCredentials>> {
  const out = {} as Record<ServiceName, ServiceCredentials>;
  await withAdmin(adminUrl, async (admin) => {
    for (const s of SERVICE_NAMES) {
      const creds = serviceCredentials(dataDir, s, prefix);
      out[s] = creds;
      const role = ident(creds.user);
      const exists = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [creds.user]);
      const attrs = `LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD ${literal(creds.password)}`;
      await admin
        .query(`${exists.rowCount ? 'ALTER' : 'CREATE'} ROLE ${role} WITH ${attrs}`)
        .catch((err: Error & { code?: string }) => {
          if (err.code !== '42710') throw err; // created concurrently by another process
        });
      const db = ident(databaseName(s, prefix));
      await admin.query(`ALTER DATABASE ${db} OWNER TO ${role}`);
      await admin.query(`REVOKE ALL ON DATABASE ${db} FROM PUBLIC`);
      await admin.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${db} TO ${role}`);
    }
  });
  await Promise.all(
    SERVICE_NAMES.map((s) => {
      const url = new URL(adminUrl);
      url.pathname = `/${databaseName(s, prefix)}`;
      return withAdmin(url.toString(), (c) => giveObjectsTo(c, out[s].user));
    }),
  );
  return out;
}

/** Tables, sequences, views and functions in public not yet owned by `role` become its own. */
async function giveObjectsTo(c: Client, role: string): Promise<void> {
  await c.query(`
    DO $$
    DECLARE r record;
    BEGIN
      FOR r IN SELECT c.oid::regclass AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                 AND pg_get_userbyid(c.relowner) <> ${literalName(role)}
      LOOP EXECUTE format('ALTER TABLE %s OWNER TO %I', r.name, ${literalName(role)}); END LOOP;
      FOR r IN SELECT c.oid::regclass AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relkind = 'S' AND pg_get_userbyid(c.relowner) <> ${literalName(role)}
                 AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))
      LOOP EXECUTE format('ALTER SEQUENCE %s OWNER TO %I', r.name, ${literalName(role)}); END LOOP;
      FOR r IN SELECT p.oid::regprocedure AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> ${literalName(role)}
      LOOP EXECUTE format('ALTER ROUTINE %s OWNER TO %I', r.name, ${literalName(role)}); END LOOP;
    END $$`);
}

/** Role names are [a-z0-9_] (databaseName of a service and a prefix): checked, then quoted as a literal. */
function literalName(name: string): string {
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`unexpected role name '${name}'`);
  return `'${name}'`;
}
