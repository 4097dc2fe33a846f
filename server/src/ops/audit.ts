import type { Executor } from '../db/index.js';

export interface Actor {
  id: number | null;
  email: string | null;
  ip: string | null;
}

export const SYSTEM_ACTOR: Actor = { id: null, email: 'system', ip: null };
export const CLI_ACTOR: Actor = { id: null, email: 'cli', ip: null };

/** Fields never written into the audit log, whatever object is passed. */
const SECRET_FIELDS = new Set(['key_sealed', 'key_hash', 'password', 'key', 'api_key', 'token']);

function scrub(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  return JSON.stringify(v, (k, val) => (SECRET_FIELDS.has(k) ? '[redacted]' : val));
}

/** Append an audit entry (who did what to which object, before and after), in the caller's transaction. */
export async function audit(
  ex: Executor,
  actor: Actor,
  action: string,
  target: { type: string; id: string | number | null },
  before?: unknown,
  after?: unknown,
): Promise<void> {
  await ex
    .insertInto('audit_log')
    .values({
      actor_id: actor.id,
      actor_email: actor.email,
      action,
      target_type: target.type,
      target_id: target.id === null ? null : String(target.id),
      before_json: scrub(before),
      after_json: scrub(after),
      ip: actor.ip,
      created_at: Date.now(),
    })
    .execute();
}
