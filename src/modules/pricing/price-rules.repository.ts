import { Injectable } from '@nestjs/common';
import { TokenPrice, trimDecimal } from '@app/money';
import { EntityManager } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';

export interface GroupRow {
  id: string;
  name: string;
  createdAt: Date;
  members: number;
}

/** Customer groups, memberships and the versioned price rules. SQL only; runs in the caller's (tenant-scoped) transaction. */
@Injectable()
export class PriceRulesRepository {
  async groups(manager: EntityManager, tenantId: string): Promise<GroupRow[]> {
    const rows: Array<{ id: string; name: string; created_at: Date; members: number }> = await manager.query(
      `SELECT g.id, g.name, g.created_at, (SELECT count(*)::int FROM customer_group_members m WHERE m.group_id = g.id) AS members
         FROM customer_groups g WHERE g.tenant_id = $1 ORDER BY lower(g.name)`,
      [tenantId],
    );
    return rows.map((r) => ({ id: r.id, name: r.name, createdAt: r.created_at, members: r.members }));
  }

  async group(manager: EntityManager, tenantId: string, groupId: string): Promise<{ id: string; name: string } | null> {
    const [row] = await manager.query(`SELECT id, name FROM customer_groups WHERE id = $1 AND tenant_id = $2`, [groupId, tenantId]);
    return row ?? null;
  }

  /** Creates a group; null when the tenant already has one of that name (case-insensitive). */
  async createGroup(manager: EntityManager, tenantId: string, name: string, by: string): Promise<string | null> {
    const id = uuidv7();
    const rows = await manager.query(
      `INSERT INTO customer_groups (id, tenant_id, name, created_by) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING id`,
      [id, tenantId, name, by],
    );
    return rows.length > 0 ? id : null;
  }

  /** Whether `customerId` is a customer (holds the `user` role) of `tenantId`. */
  async isCustomer(manager: EntityManager, tenantId: string, customerId: string): Promise<boolean> {
    const rows = await manager.query(
      `SELECT 1 FROM users u WHERE u.id = $1 AND u.tenant_id = $2
          AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.tenant_id = u.tenant_id AND r.role = 'user')`,
      [customerId, tenantId],
    );
    return rows.length > 0;
  }

  async groupOf(manager: EntityManager, tenantId: string, customerId: string): Promise<string | null> {
    const [row] = await manager.query(`SELECT group_id FROM customer_group_members WHERE customer_id = $1 AND tenant_id = $2`, [customerId, tenantId]);
    return row?.group_id ?? null;
  }

  async setGroup(manager: EntityManager, tenantId: string, customerId: string, groupId: string | null, by: string): Promise<void> {
    if (groupId === null) {
      await manager.query(`DELETE FROM customer_group_members WHERE customer_id = $1 AND tenant_id = $2`, [customerId, tenantId]);
      return;
    }
    await manager.query(
      `INSERT INTO customer_group_members (customer_id, tenant_id, group_id, set_by) VALUES ($1, $2, $3, $4)
       ON CONFLICT (customer_id) DO UPDATE SET group_id = EXCLUDED.group_id, set_by = EXCLUDED.set_by, updated_at = now()`,
      [customerId, tenantId, groupId, by],
    );
  }

  /** Adds a factor version (group null: the tenant's markup); null when one already starts at that time. */
  async insertFactor(manager: EntityManager, tenantId: string, groupId: string | null, factor: string | null, effectiveFrom: Date, by: string): Promise<string | null> {
    const id = uuidv7();
    const rows = await manager.query(
      `INSERT INTO price_factors (id, tenant_id, group_id, factor, effective_from, set_by) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT DO NOTHING RETURNING id`,
      [id, tenantId, groupId, factor, effectiveFrom, by],
    );
    return rows.length > 0 ? id : null;
  }

  /** Adds an override version for a group or a customer (price null: clears it); null when one already starts at that time. */
  async insertOverride(
    manager: EntityManager,
    tenantId: string,
    subject: { groupId: string } | { customerId: string },
    model: string,
    price: TokenPrice | null,
    effectiveFrom: Date,
    by: string,
  ): Promise<string | null> {
    const id = uuidv7();
    const p = price;
    const rows = await manager.query(
      `INSERT INTO price_overrides (id, tenant_id, group_id, customer_id, model, cleared, input_per_million, output_per_million, cache_read_per_million,
                                    cache_write_per_million, cache_write_1h_per_million, reasoning_per_million, per_request, effective_from, set_by, unit, image_prices)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) ON CONFLICT DO NOTHING RETURNING id`,
      [
        id,
        tenantId,
        'groupId' in subject ? subject.groupId : null,
        'customerId' in subject ? subject.customerId : null,
        model,
        p === null,
        p?.inputPerMillion ?? null,
        p?.outputPerMillion ?? null,
        p?.cacheReadPerMillion ?? null,
        p?.cacheWritePerMillion ?? null,
        p?.cacheWrite1hPerMillion ?? null,
        p?.reasoningPerMillion ?? null,
        p?.perRequest ?? null,
        effectiveFrom,
        by,
        p?.unit ?? 'token',
        p?.imagePrices ? JSON.stringify(p.imagePrices) : null,
      ],
    );
    return rows.length > 0 ? id : null;
  }
}

export const trimFactor = (factor: string) => trimDecimal(factor);
