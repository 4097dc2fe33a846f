import type { Config } from '../config/index.js';
import type { Db } from '../db/index.js';
import { AppError } from '../errors.js';
import { randomBase62 } from '../lib/ids.js';
import type { Logger } from '../log.js';
import { SYSTEM_ACTOR } from '../audit/index.js';
import { createUser, findUserByEmail, setPassword } from './users.js';

export const DEFAULT_ADMIN_EMAIL = 'admin@tollgate.local';

/**
 * The first start creates the first super-admin: email and password from the environment, or a
 * random password printed once. Later starts leave existing admins alone.
 */
export async function ensureSuperAdmin(db: Db, config: Config, log: Logger, print: (s: string) => void = (s) => process.stdout.write(s)) {
  const existing = await db.kysely.selectFrom('users').select('id').where('role', '=', 'super_admin').executeTakeFirst();
  if (existing) return null;
  const email = (config.adminEmail ?? DEFAULT_ADMIN_EMAIL).toLowerCase();
  const password = config.adminPassword ?? randomBase62(20);
  const found = await findUserByEmail(db.kysely, email);
  if (found) {
    await db.kysely.updateTable('users').set({ role: 'super_admin', status: 'active' }).where('id', '=', found.id).execute();
    await setPassword(db, found.id, password, SYSTEM_ACTOR, { policy: false });
  } else {
    try {
      await createUser(db, { email, password, name: 'Administrator', role: 'super_admin', emailVerified: true, policy: false }, SYSTEM_ACTOR);
    } catch (err) {
      // Processes started together on a fresh database race to create the admin: the loser finds
      // the winner's, and starts as if it had been there (only the winner prints the password).
      const winner = await db.kysely.selectFrom('users').select('id').where('role', '=', 'super_admin').executeTakeFirst();
      if (err instanceof AppError && err.code === 'already_exists' && winner) return null;
      throw err;
    }
  }
  log.info({ email }, 'first super-admin created');
  if (!config.adminPassword) {
    print(
      [
        '',
        '  ┌──────────────────────────────────────────────────────────────┐',
        '  │ Tollgate created the first super-admin. Sign in at /admin:   │',
        `  │   email:    ${email.padEnd(49)}│`,
        `  │   password: ${password.padEnd(49)}│`,
        '  │ This password is shown only this once. Change it after.      │',
        '  └──────────────────────────────────────────────────────────────┘',
        '',
      ].join('\n') + '\n',
    );
  }
  return { email, password };
}
