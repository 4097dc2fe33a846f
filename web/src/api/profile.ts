import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, authPost, call } from './client';
import { meKey } from './session';

/**
 * The Profile page: your own password, two-factor sign-in (better-auth's /api/auth/two-factor/*)
 * and signed-in devices (/api/sessions). The same for customers and staff.
 */
const sessionsKey = ['sessions'] as const;

export function useSessions() {
  return useQuery({ queryKey: sessionsKey, queryFn: () => call(api.GET('/api/sessions')) });
}

export function useRevokeSession() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => call(api.DELETE('/api/sessions/{id}', { params: { path: { id } } })),
    onSettled: () => qc.invalidateQueries({ queryKey: sessionsKey }),
  });
}

export function useRevokeOtherSessions() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: () => call(api.POST('/api/sessions/revoke-others')),
    onSettled: () => qc.invalidateQueries({ queryKey: sessionsKey }),
  });
}

/** Change your password; your other sessions end with it (better-auth's revokeOtherSessions). */
export function useChangePassword() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { currentPassword: string; newPassword: string }) => authPost('/api/auth/change-password', { ...v, revokeOtherSessions: true }),
    onSettled: () => qc.invalidateQueries({ queryKey: sessionsKey }),
  });
}

/** Start enrolling: the otpauth:// URI for the QR code and the backup codes (shown this once). */
export function useStartTwoFactor() {
  return useMutation({
    mutationFn: (password: string) => authPost<{ totpURI: string; backupCodes: string[] }>('/api/auth/two-factor/enable', { password }),
  });
}

// Turning 2FA on or off gives this browser a new session (better-auth swaps it), so /api/me and
// the sessions list are read again.
function useAfterTwoFactorChange() {
  const qc = useQueryClient();
  return async () => {
    await qc.invalidateQueries({ queryKey: meKey });
    await qc.invalidateQueries({ queryKey: sessionsKey });
  };
}

/** The first right code turns 2FA on. */
export function useConfirmTwoFactor() {
  const after = useAfterTwoFactorChange();
  return useMutation({ mutationFn: (code: string) => authPost('/api/auth/two-factor/verify-totp', { code: code.trim() }), onSuccess: after });
}

export function useRegenerateBackupCodes() {
  return useMutation({
    mutationFn: (password: string) => authPost<{ backupCodes: string[] }>('/api/auth/two-factor/generate-backup-codes', { password }),
  });
}

export function useDisableTwoFactor() {
  const after = useAfterTwoFactorChange();
  return useMutation({ mutationFn: (password: string) => authPost('/api/auth/two-factor/disable', { password }), onSuccess: after });
}

/** require_2fa_for_staff (setting:view / setting:edit). */
export function useTwoFactorSetting(enabled: boolean) {
  return useQuery({ queryKey: ['settings', 'two-factor'], queryFn: () => call(api.GET('/api/admin/settings/two-factor')), enabled });
}

export function useSetTwoFactorSetting() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (on: boolean) => call(api.PUT('/api/admin/settings/two-factor', { body: { require_2fa_for_staff: on } })),
    onSettled: async () => {
      await qc.invalidateQueries({ queryKey: ['settings', 'two-factor'] });
      await qc.invalidateQueries({ queryKey: meKey });
    },
  });
}
