import os from 'node:os';
import type { Executor } from '../db/index.js';

/**
 * Who did something, and from where. Staff and users come from a session (`actorOf(req)` in
 * http/session.ts), `cli` from the `tollgate` command (with the OS account that ran it), `system`
 * from the server itself (auto-disable, purge).
 */
export interface Actor {
  kind: 'staff' | 'user' | 'cli' | 'system';
  id: number | null;
  email: string | null;
  role?: string | null | undefined;
  /** A staff member acting as this user; the entry then names both. */
  impersonatorId?: number | null | undefined;
  ip: string | null;
  userAgent?: string | null | undefined;
  requestId?: string | null | undefined;
  osUser?: string | null | undefined;
}

export const SYSTEM_ACTOR: Actor = { kind: 'system', id: null, email: 'system', ip: null };

function osUserName(): string | null {
  try {
    return os.userInfo().username;
  } catch {
    // No passwd entry for the uid (some containers): the environment is the best we have.
    return process.env.USER ?? process.env.LOGNAME ?? null;
  }
}

/** The `tollgate` command's actor: who ran it on this machine. */
export function cliActor(): Actor {
  return { kind: 'cli', id: null, email: 'cli', ip: null, osUser: osUserName(), requestId: null, userAgent: null };
}

/** Kept for callers written before actors had a kind; the same as `cliActor()` taken at start-up. */
export const CLI_ACTOR: Actor = cliActor();

/** Fields never written into the audit log, whatever object is passed. */
const SECRET_FIELDS = new Set(['key_sealed', 'key_hash', 'password', 'key', 'api_key', 'apiKey', 'token', 'secret', 'access_token', 'refresh_token', 'id_token']);

function scrub(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  return JSON.stringify(v, (k, val) => (SECRET_FIELDS.has(k) ? '[redacted]' : val));
}

const cut = (s: string | null | undefined, n: number) => (s == null ? null : s.length > n ? s.slice(0, n) : s);

export interface AuditTarget {
  type: string;
  id: string | number | null;
}

/**
 * Append an audit entry (who did what to which object, before and after). Pass the transaction
 * that makes the change, so that the entry and the change commit or roll back together.
 */
export async function audit(
  ex: Executor,
  actor: Actor,
  action: string,
  target: AuditTarget,
  before?: unknown,
  after?: unknown,
  reason?: string | null,
): Promise<void> {
  await ex
    .insertInto('audit_log')
    .values({
      actor_id: actor.id,
      actor_email: cut(actor.email, 191),
      actor_kind: actor.kind,
      actor_role: cut(actor.role ?? null, 32),
      impersonator_id: actor.impersonatorId ?? null,
      os_user: cut(actor.osUser ?? null, 64),
      action,
      target_type: target.type,
      target_id: target.id === null ? null : String(target.id),
      before_json: scrub(before),
      after_json: scrub(after),
      reason: cut(reason ?? null, 500),
      ip: cut(actor.ip, 64),
      user_agent: cut(actor.userAgent ?? null, 512),
      request_id: cut(actor.requestId ?? null, 64),
      created_at: Date.now(),
    })
    .execute();
}
