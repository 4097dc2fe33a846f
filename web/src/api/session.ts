import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError, api, authGet, authPost, call } from './client';
import type { TFunction } from 'i18next';
import type { Me } from './types';

/** Staff are every role but `user` (built-in or custom); what each may do is in `me.permissions`. */
export const isStaff = (me: Me | null | undefined) => !!me && me.role !== 'user';

/** The built-in roles, in the order the console offers them. */
export const BUILT_IN_ROLES = ['user', 'super_admin', 'admin', 'operator', 'finance', 'auditor', 'support', 'readonly'] as const;

/** A role's name for people: the translated name of a built-in role, a custom role's own name. */
export const roleLabel = (t: TFunction, role: string): string => ((BUILT_IN_ROLES as readonly string[]).includes(role) ? t(`roles.${role}` as 'roles.user') : role);

/** True when the signed-in person holds every one of `permissions` (server/src/lib/permissions.ts). */
export const can = (me: Me | null | undefined, ...permissions: string[]) => !!me && permissions.every((p) => me.permissions.includes(p));

export const meKey = ['me'] as const;

/** The signed-in person, or null when nobody is (a 401 is an answer here, not an error). */
export function useMe() {
  return useQuery({
    queryKey: meKey,
    queryFn: async (): Promise<Me | null> => {
      try {
        return await call(api.GET('/api/me'));
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) return null;
        throw e;
      }
    },
    staleTime: 60_000,
    retry: false,
  });
}

export function useSignIn() {
  const qc = useQueryClient();
  return useMutation({
    // With 2FA on, the right password answers `{twoFactorRedirect: true}` and no session yet:
    // the sign-in page then asks for the code (useVerifySecondFactor).
    mutationFn: (v: { email: string; password: string }) =>
      authPost<{ twoFactorRedirect?: boolean } | null>('/api/auth/sign-in/email', { email: v.email.trim(), password: v.password }),
    onSuccess: async () => {
      qc.removeQueries({ predicate: (q) => q.queryKey[0] !== 'me' });
      await qc.invalidateQueries({ queryKey: meKey });
    },
  });
}

/** The second step of a sign-in with 2FA: a code from the authenticator, or a backup code. */
export function useVerifySecondFactor() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { code: string; backup: boolean; trustDevice: boolean }) =>
      authPost(v.backup ? '/api/auth/two-factor/verify-backup-code' : '/api/auth/two-factor/verify-totp', { code: v.code.trim(), trustDevice: v.trustDevice }),
    onSuccess: async () => {
      qc.removeQueries({ predicate: (q) => q.queryKey[0] !== 'me' });
      await qc.invalidateQueries({ queryKey: meKey });
    },
  });
}

export function useSignOut() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: () => authPost('/api/auth/sign-out', {}),
    onSettled: () => {
      qc.clear();
      qc.setQueryData(meKey, null);
    },
  });
}

/** Who may sign up here (open, closed, invite_only), for the sign-up page. */
export function useRegistration() {
  return useQuery({ queryKey: ['registration'], queryFn: () => call(api.GET('/api/registration')), staleTime: 60_000 });
}

/** Sign-up does not sign in: the answer is the same for a new and a registered address. */
export function useSignUp() {
  return useMutation({
    mutationFn: (v: { name: string; email: string; password: string; inviteCode?: string | undefined }) =>
      authPost('/api/auth/sign-up/email', { name: v.name.trim(), email: v.email.trim(), password: v.password, ...(v.inviteCode ? { inviteCode: v.inviteCode.trim() } : {}) }),
  });
}

/** The "Sign in with …" buttons this server offers (GitHub, Google: those it has credentials for). */
export function useAuthProviders() {
  return useQuery({ queryKey: ['auth-providers'], queryFn: () => call(api.GET('/api/auth-providers')), staleTime: 300_000 });
}

/**
 * Start a GitHub/Google sign-in: better-auth answers the provider's authorization URL (and sets the
 * state cookie); the browser goes there and comes back to the console, or to the sign-in page with
 * `?error=`. A new account lands on the overview with `?welcome=1` (its first key is shown once).
 */
export function useSocialSignIn() {
  return useMutation({
    mutationFn: async (provider: 'github' | 'google') => {
      const r = await authPost<{ url: string }>('/api/auth/sign-in/social', {
        provider,
        callbackURL: '/console',
        newUserCallbackURL: '/console/overview?welcome=1',
        errorCallbackURL: '/console/login',
      });
      window.location.assign(r.url);
    },
  });
}

/** The first key of an account a GitHub/Google sign-in created: answered once (404 afterwards). */
export function takeFirstKey() {
  return call(api.POST('/api/me/first-key'));
}

/** "Forgot password?": the answer is the same whether or not the address has an account. */
export function useRequestPasswordReset() {
  return useMutation({ mutationFn: (email: string) => authPost('/api/auth/request-password-reset', { email: email.trim() }) });
}

/** Set a new password with the token from the reset mail; every session of the account ends. */
export function useResetPassword() {
  return useMutation({ mutationFn: (v: { token: string; newPassword: string }) => authPost('/api/auth/reset-password', v) });
}

/** Send the verification mail again (the same answer for any address). */
export function useResendVerification() {
  return useMutation({ mutationFn: (email: string) => authPost('/api/auth/send-verification-email', { email: email.trim() }) });
}

/** Confirm an address with the token from the verification mail. */
export function useVerifyEmail() {
  return useMutation({ mutationFn: (token: string) => authGet('/api/auth/verify-email', { token }) });
}
