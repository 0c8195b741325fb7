import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, Schemas, unwrap } from '@/lib/api/client';
import { session } from '@/lib/api/session';

/** The challenge of a sign-in that needs its second step (401 second_factor_required), if `error` is one. */
export function secondFactorChallenge(error: unknown): string | null {
  if (!(error instanceof ApiError) || error.problem.code !== 'second_factor_required') return null;
  const challenge = (error.problem as { challenge?: unknown }).challenge;
  return typeof challenge === 'string' ? challenge : null;
}

export function useSecondFactorSignIn() {
  return useMutation({
    mutationFn: async (body: { challenge: string; code?: string; recoveryCode?: string }) => {
      const pair = await unwrap(api.POST('/api/v1/auth/login/second-factor', { body: { ...body, session: 'cookie' } }));
      session.accept(pair);
      return pair;
    },
  });
}

export function useRegister() {
  return useMutation({
    mutationFn: (body: Schemas['RegisterRequest']) => unwrap(api.POST('/api/v1/auth/register', { body })),
  });
}

export function useVerifyEmail() {
  return useMutation({
    mutationFn: (token: string) => unwrap(api.POST('/api/v1/auth/verify-email', { body: { token } })),
  });
}

const TWO_FACTOR = ['/api/v1/me/two-factor'];

export function useTwoFactorStatus() {
  return useQuery({ queryKey: TWO_FACTOR, queryFn: () => unwrap(api.GET('/api/v1/me/two-factor')) });
}

export function useStartEnrolment() {
  return useMutation({ mutationFn: () => unwrap(api.POST('/api/v1/me/two-factor/enrolment', { body: {} })) });
}

export function useConfirmEnrolment() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (code: string) => unwrap(api.POST('/api/v1/me/two-factor/confirm', { body: { code } })),
    onSuccess: () => void client.invalidateQueries({ queryKey: TWO_FACTOR }),
  });
}

export function useDisableTwoFactor() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: { code?: string; recoveryCode?: string }) => unwrap(api.POST('/api/v1/me/two-factor/disable', { body })),
    onSuccess: () => void client.invalidateQueries({ queryKey: TWO_FACTOR }),
  });
}

export function useExportPersonalData() {
  return useMutation({ mutationFn: () => unwrap(api.GET('/api/v1/me/export')) });
}

export function useDeleteAccount() {
  return useMutation({
    mutationFn: async (password: string) => {
      const result = await unwrap(api.POST('/api/v1/me/deletion', { body: { password } }));
      session.clear();
      return result;
    },
  });
}

export function useIdentitySettings() {
  return useQuery({ queryKey: ['/api/v1/identity-settings'], queryFn: () => unwrap(api.GET('/api/v1/identity-settings')) });
}

export function useSaveIdentitySettings() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas['UpdateIdentitySettingsRequest']) => unwrap(api.PUT('/api/v1/identity-settings', { body })),
    onSuccess: (data) => {
      client.setQueryData(['/api/v1/identity-settings'], data);
      void client.invalidateQueries({ queryKey: ['/api/v1/site'] });
    },
  });
}

const OIDC = ['/api/v1/identity-settings/oidc'];

export function useOidcSettings() {
  return useQuery({ queryKey: OIDC, queryFn: () => unwrap(api.GET('/api/v1/identity-settings/oidc')) });
}

export function useSaveOidcSettings() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas['UpdateOidcSettingsRequest']) => unwrap(api.PUT('/api/v1/identity-settings/oidc', { body })),
    onSuccess: (data) => {
      client.setQueryData(OIDC, data);
      void client.invalidateQueries({ queryKey: ['/api/v1/site'] });
    },
  });
}

export function useRemoveOidcSettings() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => unwrap(api.DELETE('/api/v1/identity-settings/oidc')),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: OIDC });
      void client.invalidateQueries({ queryKey: ['/api/v1/site'] });
    },
  });
}
