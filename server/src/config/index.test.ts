import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './index.js';

const dir = () => mkdtempSync(join(tmpdir(), 'tollgate-config-'));

describe('loadConfig', () => {
  it('runs the embedded default with nothing configured, generating a private secret once', () => {
    const d = dir();
    const c = loadConfig({ TOLLGATE_DATA_DIR: d } as NodeJS.ProcessEnv);
    expect(c.port).toBe(3000);
    expect(c.databaseUrl).toBe('sqlite:./data/tollgate.db');
    expect(c.secretSource).toBe('generated');
    expect(statSync(join(d, 'secret.key')).mode & 0o777).toBe(0o600);
    const again = loadConfig({ TOLLGATE_DATA_DIR: d } as NodeJS.ProcessEnv);
    expect(again.secret).toBe(c.secret);
    expect(again.secretSource).toBe('file');
    expect(readFileSync(join(d, 'secret.key'), 'utf8').trim()).toBe(c.secret);
  });

  it('reads nested settings from the environment', () => {
    const c = loadConfig({ TOLLGATE_DATA_DIR: dir(), GATEWAY_RETRIES: '5', LIVE_POLL_MS: '250', PORT: '8080' } as NodeJS.ProcessEnv);
    expect(c.gateway.retries).toBe(5);
    expect(c.gateway.cooldownMs).toBe(30_000);
    expect(c.live.pollMs).toBe(250);
    expect(c.port).toBe(8080);
  });

  it('names the variable that is wrong', () => {
    expect(() => loadConfig({ TOLLGATE_DATA_DIR: dir(), PORT: 'eighty' } as NodeJS.ProcessEnv)).toThrow(/PORT \(port\)/);
    expect(() => loadConfig({ TOLLGATE_DATA_DIR: dir(), GATEWAY_RETRIES: '-1' } as NodeJS.ProcessEnv)).toThrow(/GATEWAY_RETRIES/);
    expect(() => loadConfig({ TOLLGATE_DATA_DIR: dir(), DATABASE_URL: 'oracle://x' } as NodeJS.ProcessEnv)).toThrow(/DATABASE_URL must start with/);
    expect(() => loadConfig({ TOLLGATE_DATA_DIR: dir(), REDIS_URL: 'localhost:6379' } as NodeJS.ProcessEnv)).toThrow(/REDIS_URL/);
    expect(() => loadConfig({ TOLLGATE_DATA_DIR: dir(), TOLLGATE_ADMIN_EMAIL: 'nope' } as NodeJS.ProcessEnv)).toThrow(ConfigError);
  });

  it('requires an explicit secret for a shared database', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://x@localhost/db' } as NodeJS.ProcessEnv)).toThrow(/TOLLGATE_SECRET is required/);
    expect(() => loadConfig({ DATABASE_URL: 'postgres://x@localhost/db', TOLLGATE_SECRET: 'short' } as NodeJS.ProcessEnv)).toThrow(/at least 32/);
    const c = loadConfig({ DATABASE_URL: 'mysql://root@localhost/db', TOLLGATE_SECRET: 'x'.repeat(40) } as NodeJS.ProcessEnv);
    expect(c.secretSource).toBe('env');
  });

  it('takes a JSON config file, with the environment winning', () => {
    const d = dir();
    const file = join(d, 'tollgate.config.json');
    writeFileSync(file, JSON.stringify({ port: 4000, gateway: { retries: 1, cooldownMs: 5000 }, dataDir: d }));
    const c = loadConfig({ TOLLGATE_CONFIG: file, GATEWAY_RETRIES: '3' } as NodeJS.ProcessEnv);
    expect(c.port).toBe(4000);
    expect(c.gateway.retries).toBe(3);
    expect(c.gateway.cooldownMs).toBe(5000);
    // the environment's names work in the file too, and a misspelt setting is refused
    writeFileSync(file, JSON.stringify({ PORT: 4100, GATEWAY_RETRIES: 4, TOLLGATE_DATA_DIR: d }));
    const flat = loadConfig({ TOLLGATE_CONFIG: file } as NodeJS.ProcessEnv);
    expect(flat.port).toBe(4100);
    expect(flat.gateway.retries).toBe(4);
    writeFileSync(file, JSON.stringify({ PROT: 4100, dataDir: d }));
    expect(() => loadConfig({ TOLLGATE_CONFIG: file } as NodeJS.ProcessEnv)).toThrow(/unknown setting "PROT"/);
    writeFileSync(file, '{ not json');
    expect(() => loadConfig({ TOLLGATE_CONFIG: file } as NodeJS.ProcessEnv)).toThrow(/cannot read config file/);
  });
});

describe('TRUST_PROXY', () => {
  const env = (v: string) => ({ DATABASE_URL: 'postgres://x/y', TOLLGATE_SECRET: 'x'.repeat(32), TRUST_PROXY: v });
  it('takes true/false, a hop count or a list of proxy addresses', () => {
    expect(loadConfig(env('true')).trustProxy).toBe(true);
    expect(loadConfig(env('false')).trustProxy).toBe(false);
    expect(loadConfig(env('0')).trustProxy).toBe(false);
    expect(loadConfig(env('2')).trustProxy).toBe(2);
    expect(loadConfig(env('10.0.0.0/8, 127.0.0.1,loopback')).trustProxy).toEqual(['10.0.0.0/8', '127.0.0.1', 'loopback']);
  });
  it('refuses anything else, naming it', () => {
    expect(() => loadConfig(env('yes'))).toThrow(/TRUST_PROXY: "yes"/);
    expect(() => loadConfig(env('10.0.0.0/40'))).toThrow(ConfigError);
    expect(() => loadConfig(env('99'))).toThrow(/hop count/);
  });
});
