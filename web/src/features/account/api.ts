import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '@/lib/api/client';

// PATCH /api/v1/me and POST /api/v1/me/password land from wip/console; until then the generated
// types do not have them (the expect-error lines fail the type check once they do).
export function useUpdateProfile() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: { displayName?: string | null; preferredLanguage?: string | null }) =>
      // @ts-expect-error route not yet in the OpenAPI document
      unwrap(api.PATCH('/api/v1/me', { body })),
    onSuccess: () => client.invalidateQueries({ queryKey: ['/api/v1/me'] }),
  });
}

export function useChangePassword() {
  return useMutation({
    mutationFn: (body: { currentPassword: string; newPassword: string }) =>
      // @ts-expect-error route not yet in the OpenAPI document
      unwrap(api.POST('/api/v1/me/password', { body })) as Promise<{ sessionsEnded: number }>,
  });
}
