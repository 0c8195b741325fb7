import { errorFactory } from '@app/errors';

export enum MemberErrorCode {
  AlreadyMember = 'member_exists',
  RoleNotGrantable = 'role_not_grantable',
  LastOwner = 'last_owner',
  MemberOutranks = 'member_outranks_you',
  OwnerExists = 'owner_exists',
}

const MESSAGES: Record<MemberErrorCode, { status: number; title: string }> = {
  [MemberErrorCode.AlreadyMember]: { status: 409, title: 'This e-mail already belongs to a member of the tenant' },
  [MemberErrorCode.RoleNotGrantable]: { status: 403, title: 'You may not grant this role here' },
  [MemberErrorCode.MemberOutranks]: { status: 403, title: 'This member holds a role you may not grant' },
  [MemberErrorCode.OwnerExists]: { status: 409, title: 'This tenant already has an owner: its owner invites members' },
  [MemberErrorCode.LastOwner]: { status: 409, title: 'A tenant must keep at least one active owner' },
};

export const memberError = errorFactory<MemberErrorCode>(MESSAGES);
