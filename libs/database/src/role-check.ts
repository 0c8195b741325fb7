import { DataSource } from 'typeorm';

export class UnsafeDatabaseRoleError extends Error {}

/**
 * Row-level security is only a defence if the connecting role is subject to it: a superuser, a
 * BYPASSRLS role or a table owner ignores the policies. The api and worker refuse to start on such
 * a connection rather than run without the last line of defence.
 */
export async function assertRoleIsSubjectToRls(dataSource: DataSource, variable: string): Promise<void> {
  const [role] = await dataSource.query(
    `SELECT r.rolname AS name, r.rolsuper AS superuser, r.rolbypassrls AS bypass,
            (SELECT count(*)::int FROM pg_class c
              WHERE c.relowner = r.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')) AS owned
       FROM pg_roles r WHERE r.rolname = current_user`,
  );
  const problems: string[] = [];
  if (role.superuser) problems.push('is a superuser');
  if (role.bypass) problems.push('has BYPASSRLS');
  if (role.owned > 0) problems.push(`owns ${role.owned} table(s) or view(s)`);
  if (problems.length > 0) {
    throw new UnsafeDatabaseRoleError(
      `${variable} connects as role "${role.name}", which ${problems.join(' and ')}; row-level security ` +
        `would not apply. Connect as the application role (aigateway_app or a login role granted it).`,
    );
  }
}
