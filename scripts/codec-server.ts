// `npm run codec-server`: the codec endpoint the Temporal Web UI (and `temporal --codec-endpoint`) call to show
// encrypted payloads in clear to someone who holds the key. Same keys as the workers (SETTLE_ENCRYPTION_KEY,
// SETTLE_ENCRYPTION_KEY_ID, SETTLE_ENCRYPTION_OLD_KEYS); binds to loopback unless told otherwise.
//   npm run codec-server -- [--port 8234] [--host 127.0.0.1] [--origin http://localhost:8233 ...]
import { parseArgs } from 'node:util';
import { localPorts } from '../client/config';
import { AesGcmCodec, codecAccessFromEnv, EncryptionConfigError, startCodecServer } from '../services/codec';

function fail(msg: string, code = 2): never {
  process.stderr.write(`codec-server: ${msg}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        origin: { type: 'string', multiple: true },
        encode: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (err) {
    fail((err as Error).message);
  }
  if (args.help) {
    process.stdout.write(
      'Usage: npm run codec-server -- [--port 8234] [--host 127.0.0.1] [--origin URL] [--encode]\n' +
        'Serves POST /decode (and /encode with --encode or SETTLE_CODEC_ENCODE=1) of the Temporal codec server\n' +
        'protocol with the SETTLE_ENCRYPTION_* keys, to one browser origin (--origin or SETTLE_CODEC_ORIGIN,\n' +
        'default http://localhost:8233). With SETTLE_CODEC_TOKEN set, every request needs Authorization: Bearer <token>\n' +
        '(temporal --codec-auth "Bearer <token>"); without it, requests without the allowed Origin are refused.\n' +
        'Then in the Web UI: Settings (gear) > Codec Server > http://127.0.0.1:8234, or start the dev server with\n' +
        '  temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8234\n' +
        'and the CLI: temporal workflow show -w <id> --codec-endpoint http://127.0.0.1:8234\n',
    );
    return;
  }
  const portText = args.port ?? process.env.SETTLE_CODEC_PORT ?? '8234';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    fail(`--port must be a port number, got '${portText}'`);
  let codec: AesGcmCodec | undefined;
  try {
    codec = AesGcmCodec.fromEnv(process.env);
  } catch (err) {
    if (err instanceof EncryptionConfigError) fail(`bad encryption settings: ${err.message}`);
    throw err;
  }
  if (!codec)
    fail(
      'no key configured: set SETTLE_ENCRYPTION_KEY (base64 of 32 bytes; openssl rand -base64 32) and SETTLE_ENCRYPTION_KEY_ID',
    );
  const ui = localPorts().ui;
  const access = codecAccessFromEnv(process.env, ui);
  if (args.origin) access.allowedOrigins = args.origin;
  if (args.encode) access.allowEncode = true;
  const origins = access.allowedOrigins;
  let server: Awaited<ReturnType<typeof startCodecServer>>;
  try {
    server = await startCodecServer(codec, {
      port,
      host: args.host ?? '127.0.0.1',
      ...access,
      log: (m) => process.stderr.write(`codec-server: ${m}\n`),
    });
  } catch (err) {
    fail((err as Error).message);
  }
  process.stdout.write(
    `codec server on ${server.url} (key ${codec.keyId ?? 'none: decode only'}; ${codec.keys.all.size} key(s) can decode)\n` +
      `allowed browser origin: ${origins.join(', ')}; bearer token ${access.token ? 'required' : 'not configured'}; /encode ${access.allowEncode ? 'on' : 'off'}\n` +
      `Web UI: Settings > Codec Server > ${server.url}\n`,
  );
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: Error) => fail(err.stack ?? err.message, 1));
