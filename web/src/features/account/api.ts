import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, Schemas, unwrap } from '@/lib/api/client';

export function useUpdateProfile() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas['UpdateMeRequest']) => unwrap(api.PATCH('/api/v1/me', { body })),
    onSuccess: () => client.invalidateQueries({ queryKey: ['/api/v1/me'] }),
  });
}

export function useChangePassword() {
  return useMutation({
    mutationFn: (body: Schemas['ChangePasswordRequest']) => unwrap(api.POST('/api/v1/me/password', { body })),
  });
}
