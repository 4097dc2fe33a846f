import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { loadConfig } from '../../server/src/config/index.js';
import { startServer, type RunningServer } from '../../server/src/main.js';
import { createTestDatabase, type TestDatabase } from './db.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const TEST_SECRET = 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
export const ADMIN_EMAIL = 'admin@test.local';
export const ADMIN_PASSWORD = 'admin-password-1';

export interface TestServer extends RunningServer {
  db: TestDatabase;
  env: Record<string, string>;
  /** Stop the server; drops the database unless `keepDb`. */
  stop(opts?: { keepDb?: boolean }): Promise<void>;
}

/** Environment for a server (or a CLI call) on the given database. */
export function serverEnv(databaseUrl: string, extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    TOLLGATE_SECRET: TEST_SECRET,
    TOLLGATE_ADMIN_EMAIL: ADMIN_EMAIL,
    TOLLGATE_ADMIN_PASSWORD: ADMIN_PASSWORD,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    HOST: '127.0.0.1',
    PORT: '0',
    DB_POOL_SIZE: '8',
    LIVE_POLL_MS: '250',
    // Long scenarios act long after their sign-in; test/integration/reauth.test.ts sets a short window.
    REAUTH_WINDOW_SECONDS: '3600',
  };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

/** A real server in this process, on a fresh database (or the one given), on a random port. */
export async function startTestServer(opts: { db?: TestDatabase; env?: Record<string, string | undefined>; log?: pino.Logger } = {}): Promise<TestServer> {
  const db = opts.db ?? (await createTestDatabase());
  const env = serverEnv(db.url, opts.env);
  const config = loadConfig(env as NodeJS.ProcessEnv);
  const log = opts.log ?? pino({ level: env.LOG_LEVEL ?? 'silent' });
  const s = await startServer(config, { log, print: () => {} });
  return {
    ...s,
    db,
    env,
    async stop(o = {}) {
      await s.close(2_000);
      if (!o.keepDb && !opts.db) await db.drop();
    },
  };
}

export interface ChildServer {
  url: string;
  proc: ChildProcess;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** A server in its own process (`tollgate start`), as an operator runs it. */
export async function startChildServer(env: Record<string, string>): Promise<ChildServer> {
  const proc = spawn(process.execPath, ['bin/tollgate.mjs', 'start'], { cwd: REPO_ROOT, env: { TOLLGATE_EXIT_WITH_PARENT: '1', ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 30_000);
    const onData = () => {
      const m = /Tollgate is running at (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        proc.stdout!.off('data', onData);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
  return {
    url,
    proc,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill(signal);
      const [code] = (await once(proc, 'exit')) as [number | null];
      return code;
    },
  };
}

/** Run `tollgate …` as a user would; resolves with exit code and output. */
export async function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, ['bin/tollgate.mjs', ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d) => (stdout += d));
  proc.stderr!.on('data', (d) => (stderr += d));
  const [code] = (await once(proc, 'exit')) as [number | null];
  return { code, stdout, stderr };
}
