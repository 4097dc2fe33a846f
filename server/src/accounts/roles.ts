/** The account roles. Kept apart from users.ts so the CLI can offer them without loading it. */
import { BUILT_IN_ROLES, type BuiltInRole } from '../lib/permissions.js';

/** The built-in roles, in the order the CLI offers them (`user` is the default). */
export const ROLES = BUILT_IN_ROLES;
export type Role = BuiltInRole;
