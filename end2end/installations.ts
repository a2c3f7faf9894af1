// Installations other than the shared one the global setup starts, for the
// page sweep: a fresh one with its accounts and nothing else, and the demo
// with its played day. Each runs the real binary on a private cluster in a
// temporary directory and is stopped (and the directory removed) by `stop`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { awaitLine } from './server';
import { accounts } from './tests/accounts';

export interface Installation {
  url: string;
  /** The demo admin's password (the demo only). */
  password?: string;
  stop: () => Promise<void>;
}

const binary = process.env.DISPUTE_DESK_BIN ?? resolve(__dirname, '../target/debug/dispute-desk');

function home(): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), 'dispute-desk-sweep-'));
  // When run as root the cluster runs as `postgres`, which must enter it.
  chmodSync(dir, 0o755);
  const env = { ...process.env, DATA_DIR: dir, LISTEN_ADDR: '127.0.0.1:0', LOG_FORMAT: 'human' };
  delete env.DATABASE_URL;
  return { dir, env };
}

function stopper(child: ChildProcess, dir: string): () => Promise<void> {
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return async () => {
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
}

/** A fresh installation: the admin, ops and analyst accounts, no connection, no dispute. */
export async function empty(): Promise<Installation> {
  const { dir, env } = home();
  for (const role of ['admin', 'ops', 'analyst'] as const) {
    const account = accounts[role];
    const made = spawnSync(binary, ['users', 'create', '--email', account.email, '--role', account.role], {
      env,
      input: `${account.password}\n`,
      encoding: 'utf8',
    });
    if (made.status !== 0) throw new Error(`users create failed: ${made.stderr}`);
  }
  const server = spawn(binary, [], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await awaitLine(server, 'stdout', /serving on (http:\/\/\S+)/, 'dispute-desk');
  return { url, stop: stopper(server, dir) };
}

/** `dispute-desk demo`, once its day is played and reconciled. */
export async function demo(): Promise<Installation> {
  const { dir, env } = home();
  const server = spawn(binary, ['demo'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let password = '';
  const passwordSaid = awaitLine(server, 'stdout', /with the password (\S+)/, 'dispute-desk demo').then(
    (said) => (password = said),
  );
  const url = await awaitLine(server, 'stdout', /demo ready: open (http:\/\/\S+)\/disputes/, 'dispute-desk demo');
  await passwordSaid;
  return { url, password, stop: stopper(server, dir) };
}
