import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, Schemas, unwrap } from '@/lib/api/client';

export type SessionView = Schemas['SessionView'];

export function useUpdateProfile() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas['UpdateProfileRequest']) => unwrap(api.PATCH('/api/v1/me', { body })),
    onSuccess: () => client.invalidateQueries({ queryKey: ['/api/v1/me'] }),
  });
}

export function useChangePassword() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas['ChangePasswordRequest']) => unwrap(api.POST('/api/v1/me/password', { body })),
    onSuccess: () => client.invalidateQueries({ queryKey: ['/api/v1/me/sessions'] }),
  });
}

export function useSessions() {
  return useQuery({ queryKey: ['/api/v1/me/sessions'], queryFn: () => unwrap(api.GET('/api/v1/me/sessions')) });
}

export function useEndSessions() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (ids: string[]) => {
      for (const sessionId of ids) await unwrap(api.DELETE('/api/v1/me/sessions/{sessionId}', { params: { path: { sessionId } } }));
    },
    onSuccess: () => client.invalidateQueries({ queryKey: ['/api/v1/me/sessions'] }),
  });
}
