// Starts the real dispute-desk binary for the browser tests: a port chosen by
// the system, and a fresh private PostgreSQL cluster in a temporary directory
// (the same path a fresh machine takes without DATABASE_URL), with one account
// per role made by `dispute-desk users create` and the providers' fixture
// connections imported by `dispute-desk connections import`, their status-query
// APIs on the provider simulator (`dispute-desk-simulator`, which has played
// `story.json` into it: the lost-notification story, and a PingPong chargeback it
// decides as won two seconds after it is defended). The returned function stops
// both and removes the directory.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

import { accounts } from './tests/accounts';

/** A port free on loopback now, for the simulator's query APIs. */
async function freePort(): Promise<number> {
  return new Promise((found) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => found(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Resolves with the first capture of `pattern` in `child`'s output. */
export function awaitLine(child: ChildProcess, stream: 'stdout' | 'stderr', pattern: RegExp, what: string): Promise<string> {
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return new Promise<string>((found, failed) => {
    const lines = createInterface({ input: child[stream]! });
    lines.on('line', (line) => {
      if (process.env.E2E_SERVER_LOG) console.log(line);
      const match = line.match(pattern);
      if (match) found(match[1] ?? line);
    });
    exited.then((code) => failed(new Error(`${what} exited (${code}) before it was ready`)));
  });
}

export default async function startServer(): Promise<() => Promise<void>> {
  const binary = process.env.DISPUTE_DESK_BIN ?? resolve(__dirname, '../target/debug/dispute-desk');
  const simulatorBinary =
    process.env.DISPUTE_DESK_SIMULATOR_BIN ?? resolve(__dirname, '../target/debug/dispute-desk-simulator');
  const dataDir = mkdtempSync(join(tmpdir(), 'dispute-desk-e2e-'));
  // When run as root the cluster runs as `postgres`, which must enter it.
  chmodSync(dataDir, 0o755);

  // The dashboard follows new events within a second rather than ten.
  const env = {
    ...process.env,
    DATA_DIR: dataDir,
    LISTEN_ADDR: '127.0.0.1:0',
    LOG_FORMAT: 'human',
    DASHBOARD_REFRESH_SECS: '1',
    // Queries go to the simulator on loopback; only the tests ask.
    QUERY_ALLOW_LOCAL: 'true',
    RECONCILE_EVERY_SECS: '0',
  };
  delete env.DATABASE_URL;
  for (const account of Object.values(accounts)) {
    const made = spawnSync(binary, ['users', 'create', '--email', account.email, '--role', account.role], {
      env,
      input: `${account.password}\n`,
      encoding: 'utf8',
    });
    if (made.status !== 0) throw new Error(`users create failed: ${made.stderr}`);
  }
  // The providers' fixture connections, so tests can post signed notifications,
  // with their query APIs on the simulator.
  const fixtures = resolve(__dirname, '../core/tests/fixtures/providers/connections.json');
  const queriesPort = await freePort();
  const prefixes: Record<string, string> = {
    'pingpong-main': '/pingpong',
    'botim-main': '/botim-money',
    'payermax-main': '/payermax',
  };
  const entries = JSON.parse(readFileSync(fixtures, 'utf8')) as Record<string, string>[];
  for (const entry of entries) {
    entry.query_base_url = `http://127.0.0.1:${queriesPort}${prefixes[entry.slug]}`;
    for (const [field, value] of Object.entries(entry)) {
      if (field.endsWith('_file')) entry[field] = resolve(dirname(fixtures), value);
    }
  }
  const connections = join(dataDir, 'connections.json');
  writeFileSync(connections, JSON.stringify(entries));
  const imported = spawnSync(binary, ['connections', 'import', connections], { env, encoding: 'utf8' });
  if (imported.status !== 0) throw new Error(`connections import failed: ${imported.stderr}`);
  const server = spawn(binary, [], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((done) => server.on('exit', (code) => done(code)));
  const address = await awaitLine(server, 'stdout', /serving on (http:\/\/\S+)/, 'dispute-desk');
  process.env.DISPUTE_DESK_URL = address;

  const simulator = spawn(
    simulatorBinary,
    [
      '--intake',
      address,
      '--scenario',
      resolve(__dirname, 'story.json'),
      '--queries',
      `127.0.0.1:${queriesPort}`,
      '--keys',
      resolve(__dirname, '../core/tests/fixtures/providers/keys'),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const simulatorExited = new Promise<number | null>((done) => simulator.on('exit', (code) => done(code)));
  await awaitLine(simulator, 'stderr', /(every notification is sent)/, 'dispute-desk-simulator');

  return async () => {
    simulator.kill('SIGTERM');
    await simulatorExited;
    server.kill('SIGTERM');
    const code = await exited;
    rmSync(dataDir, { recursive: true, force: true });
    if (code !== 0) throw new Error(`dispute-desk stopped with exit code ${code}`);
  };
}
