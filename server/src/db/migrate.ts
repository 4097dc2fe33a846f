import { Migrator, type Migration, type MigrationProvider } from 'kysely';
import type { Db } from './index.js';
import * as m001 from './migrations/2026_11_22_001_initial.js';
import * as m002 from './migrations/2026_11_23_002_report_indexes.js';
import * as m070 from './migrations/2026_12_02_070_protocols.js';
import * as m100 from './migrations/2026_12_03_100_roles.js';
import * as m120 from './migrations/2026_12_03_120_audit_trail.js';
import * as m140 from './migrations/2026_12_03_140_user_freeze.js';
import * as m141 from './migrations/2026_12_03_141_key_rotation_lock.js';
import * as m142 from './migrations/2026_12_03_142_key_limits.js';
import * as m160 from './migrations/2026_12_03_160_login_failures.js';
import * as m170 from './migrations/2026_12_03_170_invite_codes.js';
import * as m190 from './migrations/2026_12_03_190_channel_stats.js';
import * as m200 from './migrations/2026_12_03_200_two_factor.js';
import * as m220 from './migrations/2026_12_03_220_first_key_reveals.js';
import * as m230 from './migrations/2026_12_03_230_ledger_staff_topup.js';
import * as m231 from './migrations/2026_12_03_231_channel_test_error_code.js';
import * as m240 from './migrations/2026_12_03_240_session_reauth.js';

/** Listed by hand (not read from disk) so the set is the same under tsx, a bundle or tests. */
const MIGRATIONS: Record<string, Migration> = {
  '2026_11_22_001_initial': m001,
  '2026_11_23_002_report_indexes': m002,
  '2026_12_02_070_protocols': m070,
  '2026_12_03_100_roles': m100,
  '2026_12_03_120_audit_trail': m120,
  '2026_12_03_140_user_freeze': m140,
  '2026_12_03_141_key_rotation_lock': m141,
  '2026_12_03_142_key_limits': m142,
  '2026_12_03_160_login_failures': m160,
  '2026_12_03_170_invite_codes': m170,
  '2026_12_03_190_channel_stats': m190,
  '2026_12_03_200_two_factor': m200,
  '2026_12_03_220_first_key_reveals': m220,
  '2026_12_03_230_ledger_staff_topup': m230,
  '2026_12_03_231_channel_test_error_code': m231,
  '2026_12_03_240_session_reauth': m240,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

/** Bring the schema up to date. Kysely's migrator takes a lock, so concurrent starts are safe. */
export async function migrateToLatest(db: Db): Promise<string[]> {
  // Migrations are written on parallel branches and are independent of each other: one that sorts
  // before an already-applied one (a branch landed later) still runs instead of stopping start-up.
  const migrator = new Migrator({ db: db.kysely, provider, allowUnorderedMigrations: true });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message ?? error}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
