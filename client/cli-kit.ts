// The CLI's small framework: commands declare their options, the kit parses strictly (unknown flags and
// missing values are errors before anything starts), prints help with examples, and maps errors to exit codes.
import { Client, Connection } from '@temporalio/client';
import { connect } from 'node:net';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AesGcmCodec, EncryptionConfigError, encryptionDataConverter } from '../services/codec';
import { temporalConfig } from './config';

export const EXIT = {
  ok: 0,
  /** The command failed for a reason not covered below. */
  error: 1,
  /** Bad input: nothing was started or written. */
  usage: 2,
  /** Temporal (or the database) could not be reached. */
  unreachable: 3,
  /** The workflow id (or account, ...) does not exist. */
  notFound: 4,
  /** The transaction is parked and needs an operator, or did not finish in time. */
  attention: 5,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.error,
  ) {
    super(message);
  }
}
export const usageError = (msg: string): CliError => new CliError(msg, EXIT.usage);

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | string[] | boolean[] | undefined>;

export interface CommandContext {
  values: Values;
  positionals: string[];
  json: boolean;
  out: (text: string) => void;
  /** Print a JSON document (the --json contract). */
  emit: (doc: unknown) => void;
  client: () => Promise<Client>;
}

export interface Command {
  /** e.g. 'order place' */
  name: string;
  summary: string;
  usage: string;
  examples: string[];
  options: Options;
  /** Names of positional arguments (for help and arity checks). */
  positionals?: { name: string; required: boolean }[];
  run(ctx: CommandContext): Promise<number | void>;
}

export const JSON_OPTION: Options = {
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
};

export function helpText(c: Command): string {
  const opts = Object.entries(c.options)
    .filter(([k]) => k !== 'help')
    .map(([k, o]) => `  --${k}${o.type === 'string' ? ' <value>' : ''}`)
    .join('\n');
  return `${c.summary}\n\nUsage: settle ${c.usage}\n\nOptions:\n${opts}\n  -h, --help\n\nExamples:\n${c.examples.map((e) => `  ${e}`).join('\n')}\n`;
}

let cachedClient: Promise<Client> | undefined;
let cachedConnection: Connection | undefined;

/** The payload codec when SETTLE_ENCRYPTION_KEY (or _OLD_KEYS) is configured; bad key settings fail before anything starts. */
function clientDataConverter(): ReturnType<typeof encryptionDataConverter> {
  try {
    return encryptionDataConverter(AesGcmCodec.fromEnv(process.env));
  } catch (err) {
    if (err instanceof EncryptionConfigError) throw usageError(`bad encryption settings: ${err.message}`);
    throw err;
  }
}

export async function connectClient(): Promise<Client> {
  const cfg = temporalConfig();
  const dataConverter = clientDataConverter();
  try {
    await probeTcp(cfg.address);
    const connection = await Connection.connect({ ...cfg.connectionOptions, connectTimeout: 5000 });
    // The SDK connects lazily on some paths: prove the server answers before anything is started.
    await connection.workflowService.getSystemInfo({});
    cachedConnection = connection;
    return new Client({ connection, namespace: cfg.namespace, ...(dataConverter ? { dataConverter } : {}) });
  } catch (err) {
    throw new CliError(
      `cannot reach Temporal at ${cfg.address} (${(err as Error).message.split('\n')[0]}).\n` +
        `Start the local stack with 'npm start' (Temporal on localhost:7233), or point TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE (and TLS / API key) at your cluster.`,
      EXIT.unreachable,
    );
  }
}

/** Fail fast on a refused port instead of waiting out the gRPC connect deadline. */
function probeTcp(address: string): Promise<void> {
  const m = /^(.*):(\d+)$/.exec(address);
  if (!m) return Promise.resolve();
  const host = m[1]!.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port: Number(m[2]) });
    const done = (err?: Error): void => {
      sock.destroy();
      if (err) reject(err);
      else resolve();
    };
    sock.setTimeout(3000, () => done(new Error('connection timed out')));
    sock.once('connect', () => done());
    sock.once('error', (e) =>
      done(
        new Error((e as NodeJS.ErrnoException).code === 'ECONNREFUSED' ? 'connection refused' : e.message),
      ),
    );
  });
}

export async function closeClient(): Promise<void> {
  const conn = cachedConnection;
  cachedConnection = undefined;
  cachedClient = undefined;
  await conn?.close().catch(() => undefined);
}

export async function runCommand(c: Command, argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...JSON_OPTION, ...c.options },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw usageError(`${(err as Error).message}\nUsage: settle ${c.usage}  (see: settle ${c.name} --help)`);
  }
  const values = parsed.values as Values;
  if (values.help) {
    process.stdout.write(helpText(c));
    return EXIT.ok;
  }
  const spec = c.positionals ?? [];
  const required = spec.filter((p) => p.required).length;
  if (parsed.positionals.length < required)
    throw usageError(
      `missing ${spec
        .slice(parsed.positionals.length)
        .filter((p) => p.required)
        .map((p) => `<${p.name}>`)
        .join(' ')}\nUsage: settle ${c.usage}`,
    );
  if (parsed.positionals.length > spec.length)
    throw usageError(`unexpected argument '${parsed.positionals[spec.length]}'\nUsage: settle ${c.usage}`);
  const json = values.json === true;
  const ctx: CommandContext = {
    values,
    positionals: parsed.positionals,
    json,
    out: (t) => {
      if (!json) process.stdout.write(t.endsWith('\n') ? t : `${t}\n`);
    },
    emit: (doc) => process.stdout.write(JSON.stringify(doc, null, 2) + '\n'),
    client: () => (cachedClient ??= connectClient()),
  };
  return (await c.run(ctx)) ?? EXIT.ok;
}

export function str(v: Values[string]): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Parse a whole number flag strictly ("2", not "2.5", "2x" or "-1"). */
export function intFlag(
  name: string,
  v: Values[string],
  opts: { min?: number; max?: number } = {},
): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  if (!/^-?\d+$/.test(s)) throw usageError(`--${name} must be a whole number, got '${s}'`);
  const n = Number(s);
  if (opts.min !== undefined && n < opts.min)
    throw usageError(`--${name} must be at least ${opts.min}, got ${n}`);
  if (opts.max !== undefined && n > opts.max)
    throw usageError(`--${name} must be at most ${opts.max}, got ${n}`);
  return n;
}
