import { createHash } from 'node:crypto';
import type { Config } from '../config/index.js';
import type { Db } from '../db/index.js';
import { AppError } from '../errors.js';

/**
 * The time until which a subject is refused, given its failure times (ascending, ms): a lock starts
 * at the failure that makes `max` failures within `windowMs`, and lasts `lockMs`. Attempts refused
 * during a lock are not failures (they never reach the password check), so a lock is not extended
 * by someone hammering it; the first failure after it ends starts counting afresh only from the
 * failures still inside the window.
 */
export function lockedUntil(times: readonly number[], max: number, windowMs: number, lockMs: number): number {
  let until = 0;
  let from = 0;
  for (let i = 0; i < times.length; i++) {
    const t = times[i]!;
    // Failures before a lock ended do not count towards the next one.
    if (t < until) continue;
    while (from < i && (times[from]! <= t - windowMs || times[from]! < until)) from++;
    if (i - from + 1 >= max) {
      until = t + lockMs;
      from = i + 1;
    }
  }
  return until;
}

const emailSubject = (email: string) => 'e:' + createHash('sha256').update(email.trim().toLowerCase()).digest('hex').slice(0, 64);
const ipSubject = (ip: string) => 'ip:' + ip.slice(0, 70);

/**
 * Account lockout and a per-address limit on failed sign-ins, counted in the database so that every
 * process behind the load balancer sees the same failures. The account is keyed by the email typed,
 * whether or not such an account exists, so a lock says nothing about which addresses are registered.
 */
export class SignInGuard {
  private readonly windowMs: number;
  private readonly lockMs: number;

  constructor(
    private readonly db: Db,
    private readonly cfg: Config['login'],
  ) {
    this.windowMs = cfg.windowMinutes * 60_000;
    this.lockMs = cfg.lockMinutes * 60_000;
  }

  private async until(subject: string, max: number, now: number): Promise<number> {
    const rows = await this.db.kysely
      .selectFrom('login_failures')
      .select('created_at')
      .where('subject', '=', subject)
      .where('created_at', '>', now - this.windowMs - this.lockMs)
      .orderBy('created_at', 'asc')
      .limit(max * 20)
      .execute();
    return lockedUntil(rows.map((r) => Number(r.created_at)), max, this.windowMs, this.lockMs);
  }

  /** Throws 429 when the account (by email) is locked or the address has failed too often. */
  async check(email: string, ip: string, now = Date.now()): Promise<void> {
    const [acct, addr] = await Promise.all([
      this.until(emailSubject(email), this.cfg.maxFailures, now),
      this.until(ipSubject(ip), this.cfg.ipMaxFailures, now),
    ]);
    if (acct > now) {
      const s = Math.ceil((acct - now) / 1000);
      throw new AppError('account_locked', `Too many failed sign-ins on this account: it is locked for ${Math.ceil(s / 60)} more minute(s).`, {
        headers: { 'retry-after': String(s) },
      });
    }
    if (addr > now) {
      const s = Math.ceil((addr - now) / 1000);
      throw new AppError('rate_limited', `Too many failed sign-ins from this address: try again in ${Math.ceil(s / 60)} minute(s).`, {
        headers: { 'retry-after': String(s) },
      });
    }
  }

  async recordFailure(email: string, ip: string, now = Date.now()): Promise<void> {
    await this.db.kysely
      .insertInto('login_failures')
      .values([
        { subject: emailSubject(email), created_at: now },
        { subject: ipSubject(ip), created_at: now },
      ])
      .execute();
  }

  /** Failures older than any window or lock they could still be part of (an hourly job). */
  async prune(now = Date.now()): Promise<void> {
    await this.db.kysely.deleteFrom('login_failures').where('created_at', '<', now - this.windowMs - this.lockMs).execute();
  }

  /** A good password clears the account's count (the address keeps its own). */
  async recordSuccess(email: string): Promise<void> {
    await this.db.kysely.deleteFrom('login_failures').where('subject', '=', emailSubject(email)).execute();
  }
}
