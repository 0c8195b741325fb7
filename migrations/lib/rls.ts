import { QueryRunner } from 'typeorm';

/** The roles every migration relies on (created by the first migration). */
export const APP_ROLE = 'aigateway_app';
export const SYSTEM_ROLE = 'aigateway_system';

/**
 * The row-visibility rule of every tenant-owned table: the row's tenant is in the transaction's
 * signed scope, or the scope is platform-wide. Both functions are evaluated once per statement
 * (scalar sub-selects become init plans), not once per row.
 */
export const tenantPredicate = (column: string) =>
  `(${column} = ANY ((SELECT tenancy.scope_tenant_ids())::uuid[]) OR (SELECT tenancy.scope_is_all()))`;

/**
 * Enables and forces row-level security on a tenant-owned table, with one policy per command for
 * the application role (scoped by tenant) and one for the system role (cross-tenant work), and
 * grants the table to both. Every migration that creates a tenant table calls this.
 */
export async function enableTenantRls(
  queryRunner: QueryRunner,
  table: string,
  options: { column?: string; commands?: Array<'select' | 'insert' | 'update' | 'delete'> } = {},
): Promise<void> {
  const column = options.column ?? 'tenant_id';
  const commands = options.commands ?? ['select', 'insert', 'update', 'delete'];
  const predicate = tenantPredicate(column);
  await queryRunner.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
  await queryRunner.query(`ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
  for (const command of commands) {
    const clause =
      command === 'insert'
        ? `WITH CHECK ${predicate}`
        : command === 'update'
          ? `USING ${predicate} WITH CHECK ${predicate}`
          : `USING ${predicate}`;
    await queryRunner.query(
      `CREATE POLICY tenant_${command} ON ${table} AS PERMISSIVE FOR ${command.toUpperCase()} TO ${APP_ROLE} ${clause}`,
    );
  }
  await queryRunner.query(
    `CREATE POLICY system_all ON ${table} AS PERMISSIVE FOR ALL TO ${SYSTEM_ROLE} USING (true) WITH CHECK (true)`,
  );
  const privileges = commands.map((c) => c.toUpperCase()).join(', ');
  await queryRunner.query(`GRANT ${privileges} ON ${table} TO ${APP_ROLE}`);
  await queryRunner.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${table} TO ${SYSTEM_ROLE}`);
}
