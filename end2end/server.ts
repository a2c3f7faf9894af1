// Starts the real dispute-desk binary for the browser tests: a port chosen by
// the system, and a fresh private PostgreSQL cluster in a temporary directory
// (the same path a fresh machine takes without DATABASE_URL), with one account
// per role made by `dispute-desk users create` and the providers' fixture
// connections imported by `dispute-desk connections import`. The returned function stops it
// and removes the directory.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

import { accounts } from './tests/accounts';

export default async function startServer(): Promise<() => Promise<void>> {
  const binary = process.env.DISPUTE_DESK_BIN ?? resolve(__dirname, '../target/debug/dispute-desk');
  const dataDir = mkdtempSync(join(tmpdir(), 'dispute-desk-e2e-'));
  // When run as root the cluster runs as `postgres`, which must enter it.
  chmodSync(dataDir, 0o755);

  // The dashboard follows new events at once rather than within seconds.
  const env = {
    ...process.env,
    DATA_DIR: dataDir,
    LISTEN_ADDR: '127.0.0.1:0',
    LOG_FORMAT: 'human',
    DASHBOARD_REFRESH_SECS: '0',
  };
  delete env.DATABASE_URL;
  for (const [role, account] of Object.entries(accounts)) {
    const made = spawnSync(binary, ['users', 'create', '--email', account.email, '--role', role], {
      env,
      input: `${account.password}\n`,
      encoding: 'utf8',
    });
    if (made.status !== 0) throw new Error(`users create failed: ${made.stderr}`);
  }
  // The providers' fixture connections, so tests can post signed notifications.
  const fixtures = resolve(__dirname, '../core/tests/fixtures/providers/connections.json');
  const imported = spawnSync(binary, ['connections', 'import', fixtures], { env, encoding: 'utf8' });
  if (imported.status !== 0) throw new Error(`connections import failed: ${imported.stderr}`);
  const server = spawn(binary, [], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((done) => server.on('exit', (code) => done(code)));

  const address = await new Promise<string>((found, failed) => {
    const lines = createInterface({ input: server.stdout! });
    lines.on('line', (line) => {
      if (process.env.E2E_SERVER_LOG) console.log(line);
      const match = line.match(/serving on (http:\/\/\S+)/);
      if (match) found(match[1]);
    });
    exited.then((code) => failed(new Error(`dispute-desk exited (${code}) before serving`)));
  });
  process.env.DISPUTE_DESK_URL = address;

  return async () => {
    server.kill('SIGTERM');
    const code = await exited;
    rmSync(dataDir, { recursive: true, force: true });
    if (code !== 0) throw new Error(`dispute-desk stopped with exit code ${code}`);
  };
}
