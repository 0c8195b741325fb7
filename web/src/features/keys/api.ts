import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, Schemas, unwrap } from '@/lib/api/client';

export type Key = Schemas['KeyView'];
export type KeyWithSecret = Schemas['KeyWithSecretView'];
export type KeyLimits = Schemas['UpdateKeyRequest'];

const KEYS = ['/api/v1/keys'] as const;

export function useKeys(page = 1, pageSize = 20, enabled = true) {
  return useQuery({
    queryKey: [...KEYS, { page, pageSize }],
    queryFn: () => unwrap(api.GET('/api/v1/keys', { params: { query: { page, pageSize } } })),
    enabled,
  });
}

function useKeyMutation<T, R>(call: (input: T) => Promise<R>) {
  const client = useQueryClient();
  return useMutation({ mutationFn: call, onSuccess: () => client.invalidateQueries({ queryKey: KEYS }) });
}

export const useCreateKey = () => useKeyMutation((body: Schemas['CreateKeyRequest']) => unwrap(api.POST('/api/v1/keys', { body })));

export const useUpdateKey = () =>
  useKeyMutation(({ id, body }: { id: string; body: KeyLimits }) => unwrap(api.PATCH('/api/v1/keys/{id}', { params: { path: { id } }, body })));

export const useRotateKey = () =>
  useKeyMutation(({ id, gracePeriodSeconds }: { id: string; gracePeriodSeconds: number }) =>
    unwrap(api.POST('/api/v1/keys/{id}/rotate', { params: { path: { id } }, body: { gracePeriodSeconds } })),
  );

export const useDisableKey = () => useKeyMutation((id: string) => unwrap(api.POST('/api/v1/keys/{id}/disable', { params: { path: { id } } })));
export const useEnableKey = () => useKeyMutation((id: string) => unwrap(api.POST('/api/v1/keys/{id}/enable', { params: { path: { id } } })));
export const useRevokeKey = () => useKeyMutation((id: string) => unwrap(api.DELETE('/api/v1/keys/{id}', { params: { path: { id } } })));
