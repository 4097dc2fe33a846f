/** The account roles. Kept apart from users.ts so the CLI can offer them without loading it. */
export const ROLES = ['user', 'admin', 'super_admin'] as const;
export type Role = (typeof ROLES)[number];
