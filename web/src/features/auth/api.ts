import { createMongoAbility, MongoAbility } from '@casl/ability';
import { unpackRules, PackRule } from '@casl/ability/extra';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, Schemas, unwrap } from '@/lib/api/client';
import { session } from '@/lib/api/session';

export type Me = Schemas['MeResponse'];

/** Who is signed in, with their CASL ability (what the navigation may offer). */
export function useMe(enabled = true) {
  return useQuery({
    queryKey: ['/api/v1/me'],
    queryFn: async () => {
      const me = await unwrap(api.GET('/api/v1/me'));
      const user = { ...me.user, displayName: (me.user.displayName as string | null | undefined) ?? null };
      return { ...me, user, ability: createMongoAbility(unpackRules(me.rules as PackRule<never>[])) as MongoAbility };
    },
    enabled,
    staleTime: 60_000,
  });
}

export function useSignIn() {
  return useMutation({
    mutationFn: async (body: { email: string; password: string }) => {
      const pair = await unwrap(api.POST('/api/v1/auth/login', { body: { ...body, session: 'cookie' } }));
      session.accept(pair);
      return pair;
    },
  });
}

export function useSignOut() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async () => {
      await api.POST('/api/v1/auth/logout', { body: {} });
      session.clear();
      client.clear();
    },
  });
}

export function useAcceptInvitation() {
  return useMutation({
    mutationFn: async (body: { token: string; password: string; displayName?: string }) => {
      const pair = await unwrap(api.POST('/api/v1/auth/invitations/accept', { body: { ...body, session: 'cookie' } }));
      session.accept(pair);
      return pair;
    },
  });
}

export function useRequestReset() {
  return useMutation({
    mutationFn: (body: { email: string }) => unwrap(api.POST('/api/v1/auth/password-reset', { body })),
  });
}

export function useConfirmReset() {
  return useMutation({
    mutationFn: (body: { token: string; password: string }) => unwrap(api.POST('/api/v1/auth/password-reset/confirm', { body })),
  });
}
