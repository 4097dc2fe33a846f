import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/**
 * Table types. Conventions: our own timestamps are epoch milliseconds in BIGINT columns named
 * `*_at` (portable and index-friendly on all three databases); booleans are 0/1 SMALLINTs; money
 * is BIGINT micro-units. The better-auth tables (`users`, `auth_*`) keep the native timestamp
 * types that library expects.
 */

type Ms = number;
type Bool01 = number;
/** better-auth timestamps: Date on PostgreSQL/MySQL, ISO text on SQLite. */
type AuthTime = ColumnType<Date | string, Date | string | undefined, Date | string>;

export interface UsersTable {
  id: Generated<number>;
  name: string;
  email: string;
  email_verified: ColumnType<boolean | number, boolean | number | undefined, boolean | number>;
  image: string | null;
  created_at: AuthTime;
  updated_at: AuthTime;
  role: Generated<string>; // 'user', a built-in staff role (lib/permissions.ts) or a custom role's name
  status: Generated<string>; // 'active' | 'disabled' | 'frozen'
  group_name: Generated<string>;
  remark: string | null;
  last_login_at: Ms | null;
  frozen_reason: string | null;
  frozen_at: Ms | null;
  frozen_by: string | null;
  /** better-auth's twoFactorEnabled: true once a TOTP secret was confirmed with a code. */
  two_factor_enabled: ColumnType<boolean | number, boolean | number | undefined, boolean | number>;
}

export interface AuthSessionsTable {
  id: Generated<number>;
  expires_at: AuthTime;
  token: string;
  created_at: AuthTime;
  updated_at: AuthTime;
  ip_address: string | null;
  user_agent: string | null;
  user_id: number;
  /** Last confirmation of the password or a 2FA code (epoch ms); null = the sign-in only. */
  reauth_at?: number | null;
}

export interface AuthAccountsTable {
  id: Generated<number>;
  account_id: string;
  provider_id: string;
  user_id: number;
  access_token: string | null;
  refresh_token: string | null;
  id_token: string | null;
  access_token_expires_at: AuthTime | null;
  refresh_token_expires_at: AuthTime | null;
  scope: string | null;
  password: string | null;
  created_at: AuthTime;
  updated_at: AuthTime;
}

export interface AuthVerificationsTable {
  id: Generated<number>;
  identifier: string;
  value: string;
  expires_at: AuthTime;
  created_at: AuthTime;
  updated_at: AuthTime;
}

/**
 * Money buckets of one owner (a user now; an organization later). Charges draw
 * plan → gift → cash → credit; what cannot be drawn becomes arrears.
 */
export interface WalletsTable {
  id: Generated<number>;
  user_id: number | null;
  org_id: number | null;
  currency: Generated<string>;
  cash_micros: Generated<number>;
  gift_micros: Generated<number>;
  plan_micros: Generated<number>;
  credit_limit_micros: Generated<number>;
  credit_used_micros: Generated<number>;
  pending_micros: Generated<number>;
  arrears_micros: Generated<number>;
  created_at: Ms;
  updated_at: Ms;
}

export interface ApiKeysTable {
  id: Generated<number>;
  user_id: number;
  name: string;
  key_hash: string;
  key_prefix: string;
  key_last4: string;
  status: Generated<string>; // 'active' | 'disabled' | 'locked' | 'revoked'
  expires_at: Ms | null;
  quota_micros: number | null; // null = no quota of its own
  quota_used_micros: Generated<number>;
  quota_pending_micros: Generated<number>;
  allowed_models: string | null; // JSON array of patterns; null = all
  allowed_ips: string | null; // JSON array of IPs/CIDRs; null = any
  group_name: string | null; // null = the user's group
  rpm_limit: number | null;
  last_used_at: Ms | null;
  created_at: Ms;
  updated_at: Ms;
  deleted_at: Ms | null;
  /** The secret a rotation replaced, accepted until prev_key_expires_at. */
  prev_key_hash: string | null;
  prev_key_display: string | null;
  prev_key_expires_at: Ms | null;
  rotated_at: Ms | null;
  locked_reason: string | null;
  locked_at: Ms | null;
  locked_by: string | null;
  tpm_limit: number | null;
  allowed_origins: string | null; // JSON array of sites; null = any
  tags: string | null; // JSON array of labels
  remark: string | null;
}

export interface RolesTable {
  name: string;
  description: string | null;
  /** JSON array of `resource:action`; '[]' and unread for built-in roles (defined in lib/permissions.ts). */
  permissions: string;
  built_in: number;
  created_at: Ms;
  updated_at: Ms;
}

export interface GroupsTable {
  name: string;
  /** Price multiplier in parts per million (1 000 000 = ×1). */
  multiplier_ppm: number;
  description: string | null;
  created_at: Ms;
  updated_at: Ms;
}

export interface ModelPricesTable {
  model: string;
  /** micro-USD per 1M tokens */
  input_price: number;
  output_price: number;
  cached_input_price: number | null; // null = same as input
  cache_write_price: number | null; // null = same as input
  /** micro-USD per call */
  request_price: Generated<number>;
  created_at: Ms;
  updated_at: Ms;
}

export interface ChannelsTable {
  id: Generated<number>;
  name: string;
  type: Generated<string>; // 'openai' (OpenAI-compatible)
  base_url: string;
  key_sealed: string;
  models: string; // JSON array of names / `*` patterns
  model_mapping: string | null; // JSON object public → upstream
  groups: string; // JSON array
  priority: Generated<number>;
  weight: Generated<number>;
  status: Generated<string>; // 'enabled' | 'disabled' | 'auto_disabled'
  status_reason: string | null;
  status_changed_at: Ms | null;
  test_model: string | null;
  last_test_at: Ms | null;
  last_test_ok: Bool01 | null;
  last_test_ms: number | null;
  last_test_error: string | null;
  /** A stable code for the failure (upstream_auth, upstream_unreachable …) that the console translates. */
  last_test_error_code: ColumnType<string | null, string | null | undefined, string | null>;
  /** Upstream cost as a fraction of the list price, in ppm (700 000 = we pay 70 %). */
  cost_ratio_ppm: Generated<number>;
  remark: string | null;
  /** JSON of switches for strict upstreams, e.g. {"stream_usage": false}; null = defaults. */
  options: string | null;
  created_at: Ms;
  updated_at: Ms;
}

export interface HoldsTable {
  id: Generated<number>;
  request_id: string;
  wallet_id: number;
  key_id: number;
  amount_micros: number;
  key_quota: Bool01; // whether the key's own quota was also reserved
  status: Generated<string>; // 'pending' | 'posted' | 'voided' | 'expired'
  expires_at: Ms;
  created_at: Ms;
  settled_at: Ms | null;
}

export interface LedgerEntriesTable {
  id: Generated<number>;
  wallet_id: number;
  user_id: number | null;
  bucket: string; // 'cash' | 'gift' | 'plan' | 'credit' | 'arrears'
  type: string; // 'charge' | 'topup' | 'adjustment' | 'arrears' | 'arrears_repayment' | 'refund' | 'voucher' | 'reversal'
  amount_micros: number; // signed change of the bucket
  balance_after_micros: number; // the bucket after this entry
  idempotency_key: string | null;
  ref_type: string | null; // 'request' | 'admin' | 'order' …
  ref_id: string | null;
  reason: string | null;
  actor_id: number | null;
  created_at: Ms;
  /** Staff top-ups: how the money came in ('bank_transfer' | 'cash' | 'alipay' | 'wechat' | 'other'). */
  payment_method: ColumnType<string | null, string | null | undefined, string | null>;
  /** Staff top-ups: the bank slip / transaction number typed in. */
  external_ref: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface UsageRecordsTable {
  id: Generated<number>;
  request_id: string;
  created_at: Ms;
  user_id: number;
  key_id: number;
  wallet_id: number;
  endpoint: string; // 'chat.completions' | 'completions' | 'embeddings'
  model: string;
  upstream_model: string | null;
  channel_id: number | null;
  stream: Bool01;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  /** Prompt tokens written to the upstream's prompt cache (part of prompt_tokens). */
  cache_write_tokens: Generated<number>;
  /** Completion tokens spent on reasoning (part of completion_tokens). */
  reasoning_tokens: Generated<number>;
  input_price: number;
  output_price: number;
  cached_input_price: number;
  cache_write_price: number | null;
  request_price: number;
  multiplier_ppm: number;
  charged_micros: number;
  cost_micros: number;
  arrears_micros: number;
  status_code: number;
  error_code: string | null;
  error_message: string | null;
  latency_ms: number;
  ttfb_ms: number | null;
  attempts: number;
  usage_source: string; // 'upstream' | 'estimated' | 'none'
  client_ip: string | null;
}

export interface ChangeLogTable {
  id: Generated<number>;
  kind: string; // 'key' | 'user' | 'channel' | 'price' | 'group' | 'setting'
  ref_id: string | null;
  created_at: Ms;
}

export interface AuditLogTable {
  id: Generated<number>;
  actor_id: number | null;
  actor_email: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  before_json: string | null;
  after_json: string | null;
  ip: string | null;
  created_at: Ms;
  actor_kind: Generated<string>;
  actor_role: string | null;
  impersonator_id: number | null;
  os_user: string | null;
  reason: string | null;
  user_agent: string | null;
  request_id: string | null;
}

export interface JobLeasesTable {
  name: string;
  holder: string;
  expires_at: Ms;
}

export interface SettingsTable {
  key: string;
  value: string;
  updated_at: Ms;
}

export interface LoginFailuresTable {
  id: Generated<number>;
  /** "e:" + sha256 of the lower-cased email, or "ip:" + the client address. */
  subject: string;
  created_at: Ms;
}

export interface InviteCodesTable {
  id: Generated<number>;
  /** sha256 hex of the code; the code itself is shown once. */
  code_hash: string;
  note: string | null;
  created_by: number | null;
  created_at: Ms;
  expires_at: Ms | null;
  used_at: Ms | null;
  used_by: number | null;
}

export interface Database {
  users: UsersTable;
  auth_sessions: AuthSessionsTable;
  auth_accounts: AuthAccountsTable;
  auth_verifications: AuthVerificationsTable;
  wallets: WalletsTable;
  api_keys: ApiKeysTable;
  groups: GroupsTable;
  roles: RolesTable;
  model_prices: ModelPricesTable;
  channels: ChannelsTable;
  holds: HoldsTable;
  ledger_entries: LedgerEntriesTable;
  usage_records: UsageRecordsTable;
  change_log: ChangeLogTable;
  audit_log: AuditLogTable;
  job_leases: JobLeasesTable;
  settings: SettingsTable;
  login_failures: LoginFailuresTable;
  invite_codes: InviteCodesTable;
  channel_minute_stats: ChannelMinuteStatsTable;
  first_key_reveals: FirstKeyRevealsTable;
  two_factors: TwoFactorsTable;
}

/** The first key of an account made by a GitHub/Google sign-in, sealed until the portal shows it once (accounts/oauth.ts). */
export interface FirstKeyRevealsTable {
  user_id: number;
  key_id: number;
  key_sealed: string;
  created_at: Ms;
}

/** better-auth's twoFactor model: secret and backup codes encrypted by better-auth (accounts/auth.ts). */
export interface TwoFactorsTable {
  id: Generated<number>;
  user_id: number;
  secret: string;
  backup_codes: string;
  verified: ColumnType<boolean | number, boolean | number | undefined, boolean | number>;
  failed_verification_count: Generated<number>;
  locked_until: AuthTime | null;
}

/** Upstream attempts per channel and minute, summed over processes (gateway/channel-stats.ts). */
export interface ChannelMinuteStatsTable {
  channel_id: number;
  minute: number; // epoch ms at the start of the minute
  ok_count: number;
  error_count: number;
  last_error: string | null;
  last_error_at: number | null;
}

export type User = Selectable<UsersTable>;
export type Wallet = Selectable<WalletsTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type ChannelRow = Selectable<ChannelsTable>;
export type NewChannel = Insertable<ChannelsTable>;
export type ChannelUpdate = Updateable<ChannelsTable>;
export type ModelPrice = Selectable<ModelPricesTable>;
export type Group = Selectable<GroupsTable>;
export type LedgerEntry = Selectable<LedgerEntriesTable>;
export type UsageRecord = Selectable<UsageRecordsTable>;
export type NewUsageRecord = Insertable<UsageRecordsTable>;
export type Hold = Selectable<HoldsTable>;
