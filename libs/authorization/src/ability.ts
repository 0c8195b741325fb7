import { AbilityBuilder, createMongoAbility, MongoAbility, subject as caslSubject } from '@casl/ability';
import { Principal } from './principal';

export type Action = 'manage' | 'create' | 'read' | 'update' | 'delete' | 'disable' | 'enable' | 'invite' | 'assign';
/** Subject names are declared by the feature modules (`*.permissions.ts`); 'all' matches any. */
export type SubjectName = string;
export type AppAbility = MongoAbility<[Action, SubjectName | Record<string, unknown>]>;
export type AbilityRules = AbilityBuilder<AppAbility>;

/**
 * One module's rules: given who is calling, what they may do with that module's subjects.
 * Conditions use the subject's API field names (e.g. `tenantId`), which the SQL translator maps
 * to columns.
 */
export type PermissionDefinition = (principal: Principal, rules: AbilityRules) => void;

/** Builds the caller's abilities from every module's rules; built per request, never cached. */
export function buildAbility(principal: Principal, definitions: readonly PermissionDefinition[]): AppAbility {
  const builder = new AbilityBuilder<AppAbility>(createMongoAbility);
  for (const define of definitions) define(principal, builder);
  return builder.build();
}

/** Tags a plain object with its subject type for instance checks. */
export function asSubject<T extends Record<string, unknown>>(type: SubjectName, object: T): T & { __caslSubjectType__: string } {
  return caslSubject(type, { ...object }) as T & { __caslSubjectType__: string };
}
