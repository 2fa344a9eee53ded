// scripts/chromium.js decides how the browser tests get a Chromium: the environment's path, an installed one,
// Debian's package through apt-get when allowed (root, or password-less sudo), or a clear instruction. Every effect
// is injected here, so each branch runs without touching the machine.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';

interface Deps {
  env: Record<string, string | undefined>;
  candidates: string[];
  uid: number;
  works(file: string): boolean;
  run(cmd: string, args: string[], env?: Record<string, string>): number | null;
  log(m: string): void;
}
interface Provisioner {
  provisionChromium(opts: { install?: boolean }, deps?: Partial<Deps>): string;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { provisionChromium } = require(join(__dirname, '..', '..', 'scripts', 'chromium.js')) as Provisioner;

/** A fake machine: which executables work, and what apt-get installs when it runs. */
function machine(o: {
  working?: string[];
  uid?: number;
  sudo?: boolean;
  aptInstalls?: string;
  aptFails?: boolean;
}) {
  const working = new Set(o.working ?? []);
  const ran: string[] = [];
  const deps: Partial<Deps> = {
    env: {},
    candidates: ['/usr/bin/chromium', '/usr/bin/chromium-browser'],
    uid: o.uid ?? 1000,
    works: (f) => working.has(f),
    run: (cmd, args) => {
      ran.push([cmd, ...args].join(' '));
      if (cmd === 'sudo' && args.join(' ') === '-n true') return o.sudo ? 0 : 1;
      if (o.aptFails && args.includes('install')) return 100;
      if (args.includes('install') && o.aptInstalls) working.add(o.aptInstalls);
      return 0;
    },
    log: () => undefined,
  };
  return { deps, ran };
}

describe('Chromium provisioning for the browser tests', () => {
  it('uses the path from SETTLE_CHROMIUM_PATH or CHROME_PATH and installs nothing', () => {
    const { deps, ran } = machine({ working: ['/opt/chrome/chrome'], uid: 0 });
    assert.equal(
      provisionChromium({ install: true }, { ...deps, env: { CHROME_PATH: '/opt/chrome/chrome' } }),
      '/opt/chrome/chrome',
    );
    assert.equal(
      provisionChromium(
        { install: true },
        { ...deps, env: { SETTLE_CHROMIUM_PATH: '/opt/chrome/chrome', CHROME_PATH: '/x' } },
      ),
      '/opt/chrome/chrome',
    );
    assert.deepEqual(ran, []);
  });

  it('refuses a given path that does not work, even when one is installed', () => {
    const { deps } = machine({ working: ['/usr/bin/chromium'], uid: 0 });
    assert.throws(
      () => provisionChromium({ install: true }, { ...deps, env: { CHROME_PATH: '/nope' } }),
      /CHROME_PATH=\/nope is not a working Chromium/,
    );
  });

  it('uses an installed Chromium without running apt-get', () => {
    const { deps, ran } = machine({ working: ['/usr/bin/chromium-browser'], uid: 0 });
    assert.equal(provisionChromium({ install: true }, deps), '/usr/bin/chromium-browser');
    assert.deepEqual(ran, []);
  });

  it("as root installs Debian's chromium with apt-get directly", () => {
    const { deps, ran } = machine({ uid: 0, aptInstalls: '/usr/bin/chromium' });
    assert.equal(provisionChromium({ install: true }, deps), '/usr/bin/chromium');
    assert.deepEqual(ran, [
      'apt-get update -qq',
      'apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core',
    ]);
  });

  it('as a user with password-less sudo installs through sudo -n', () => {
    const { deps, ran } = machine({ sudo: true, aptInstalls: '/usr/bin/chromium' });
    assert.equal(provisionChromium({ install: true }, deps), '/usr/bin/chromium');
    assert.deepEqual(ran, [
      'sudo -n true',
      'sudo -n apt-get update -qq',
      'sudo -n apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core',
    ]);
  });

  it('without a way to install, fails with the command to run and the variable to set', () => {
    const { deps, ran } = machine({ sudo: false });
    assert.throws(
      () => provisionChromium({ install: true }, deps),
      (err: Error) =>
        /cannot install packages/.test(err.message) &&
        /apt-get install -y --no-install-recommends chromium/.test(err.message) &&
        /SETTLE_CHROMIUM_PATH/.test(err.message),
    );
    assert.deepEqual(ran, ['sudo -n true']);
  });

  it('reports a failed apt-get install with the instruction', () => {
    const { deps } = machine({ uid: 0, aptFails: true });
    assert.throws(
      () => provisionChromium({ install: true }, deps),
      /apt-get install chromium fonts-dejavu-core failed/,
    );
  });

  it('with install off never runs anything and says what to do', () => {
    const { deps, ran } = machine({ uid: 0 });
    assert.throws(
      () => provisionChromium({ install: false }, deps),
      /No Chromium found .*Install it and retry/s,
    );
    assert.deepEqual(ran, []);
  });
});
