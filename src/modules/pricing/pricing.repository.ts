import { Injectable } from '@nestjs/common';
import { PriceUnitName, TokenPrice, trimDecimal } from '@app/money';
import { EntityManager } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { FactorVersion, OverrideVersion, PriceBookData, PriceRulesData, PriceVersion } from './price-book';

interface PriceRow {
  id: string;
  model: string;
  input_per_million: string;
  output_per_million: string;
  cache_read_per_million: string | null;
  cache_write_per_million: string | null;
  cache_write_1h_per_million: string | null;
  reasoning_per_million: string | null;
  per_request: string | null;
  unit?: PriceUnitName;
  image_prices?: Record<string, string> | null;
  effective_from: Date;
  set_by: string | null;
  created_at: Date;
  set_by_email?: string | null;
}

const trimOrNull = (v: string | null) => (v === null ? null : trimDecimal(v));

function toVersion(r: PriceRow): PriceVersion & { setByEmail: string | null } {
  return {
    id: r.id,
    model: r.model,
    price: {
      inputPerMillion: trimDecimal(r.input_per_million),
      outputPerMillion: trimDecimal(r.output_per_million),
      cacheReadPerMillion: trimOrNull(r.cache_read_per_million),
      cacheWritePerMillion: trimOrNull(r.cache_write_per_million),
      cacheWrite1hPerMillion: trimOrNull(r.cache_write_1h_per_million),
      reasoningPerMillion: trimOrNull(r.reasoning_per_million),
      perRequest: trimOrNull(r.per_request),
      ...(r.unit && r.unit !== 'token' ? { unit: r.unit } : {}),
      ...(r.image_prices ? { imagePrices: r.image_prices } : {}),
    },
    effectiveFrom: r.effective_from,
    setBy: r.set_by,
    setByEmail: r.set_by_email ?? null,
    createdAt: r.created_at,
  };
}

function byModel(rows: PriceRow[]): Map<string, PriceVersion[]> {
  const map = new Map<string, PriceVersion[]>();
  for (const row of rows) {
    const list = map.get(row.model) ?? [];
    list.push(toVersion(row));
    map.set(row.model, list);
  }
  return map;
}

function push<V>(map: Map<string, V[]>, key: string, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

const COLUMNS = `p.id, p.model, p.input_per_million, p.output_per_million, p.cache_read_per_million,
  p.cache_write_per_million, p.cache_write_1h_per_million, p.reasoning_per_million, p.per_request, p.unit, p.image_prices, p.effective_from, p.set_by, p.created_at`;

export interface NewPrice {
  model: string;
  price: TokenPrice;
  effectiveFrom: Date;
  /** null: set by the system (cli seed-demo). */
  setBy: string | null;
}

/** Price lists are append-only: versions are inserted, never updated or deleted. */
@Injectable()
export class PricingRepository {
  /** The whole book of one tenant (platform list, own list, hidden models, discount). */
  async loadBook(manager: EntityManager, tenantId: string): Promise<PriceBookData | null> {
    const [tenant] = await manager.query(`SELECT type, parent_id FROM tenants WHERE id = $1`, [tenantId]);
    if (!tenant) return null;
    const platform: PriceRow[] = await manager.query(`SELECT ${COLUMNS} FROM platform_prices p ORDER BY p.model, p.effective_from`);
    const own: PriceRow[] =
      tenant.type === 'reseller'
        ? await manager.query(`SELECT ${COLUMNS} FROM tenant_prices p WHERE p.tenant_id = $1 ORDER BY p.model, p.effective_from`, [tenantId])
        : [];
    const hidden: Array<{ model: string }> = await manager.query(`SELECT model FROM tenant_hidden_models WHERE tenant_id = $1`, [tenantId]);
    return {
      tenantId,
      tenantType: tenant.type,
      platform: byModel(platform),
      own: byModel(own),
      hidden: new Set(hidden.map((h) => h.model)),
      discountPercent: tenant.type === 'reseller' ? ((await this.discount(manager, tenantId)) ?? '0') : '0',
      rules: await this.loadRules(manager, tenantId),
      parentId: tenant.parent_id ?? null,
      spot: await this.spotFactors(manager, tenant.type === 'platform' ? 'platform' : tenantId),
      platformSpot: tenant.type === 'reseller' && !tenant.parent_id ? await this.spotFactors(manager, 'platform') : new Map(),
    };
  }

  /**
   * Spot factors per model, versions ascending: one reseller's, or the platform's (readable by
   * every scoped transaction, as the platform list is).
   */
  async spotFactors(manager: EntityManager, tenantId: string | 'platform'): Promise<Map<string, FactorVersion[]>> {
    const rows: Array<{ id: string; model: string; factor: string | null; effective_from: Date }> =
      tenantId === 'platform'
        ? await manager.query(`SELECT id, model, factor, effective_from FROM platform_spot_factors ORDER BY effective_from, created_at`)
        : await manager.query(`SELECT id, model, factor, effective_from FROM spot_price_factors WHERE tenant_id = $1 ORDER BY effective_from, created_at`, [tenantId]);
    const map = new Map<string, FactorVersion[]>();
    for (const r of rows) push(map, r.model, { id: r.id, factor: r.factor === null ? null : trimDecimal(r.factor), effectiveFrom: r.effective_from });
    return map;
  }

  /** Adds a version of a model's spot factor to the platform's list or a reseller's; null if one takes effect at that time already. */
  async insertSpotFactor(manager: EntityManager, tenantId: string | 'platform', model: string, factor: string | null, effectiveFrom: Date, by: string): Promise<string | null> {
    const id = uuidv7();
    const rows =
      tenantId === 'platform'
        ? await manager.query(
            `INSERT INTO platform_spot_factors (id, model, factor, effective_from, set_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id`,
            [id, model, factor, effectiveFrom, by],
          )
        : await manager.query(
            `INSERT INTO spot_price_factors (id, tenant_id, model, factor, effective_from, set_by) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT DO NOTHING RETURNING id`,
            [id, tenantId, model, factor, effectiveFrom, by],
          );
    return rows.length > 0 ? id : null;
  }

  /** Groups, memberships, markup, multipliers and overrides of one tenant, versions ascending. */
  async loadRules(manager: EntityManager, tenantId: string): Promise<PriceRulesData> {
    const factors: Array<{ id: string; group_id: string | null; factor: string | null; effective_from: Date }> = await manager.query(
      `SELECT id, group_id, factor, effective_from FROM price_factors WHERE tenant_id = $1 ORDER BY effective_from, created_at`,
      [tenantId],
    );
    const overrides: Array<PriceRow & { group_id: string | null; customer_id: string | null; cleared: boolean }> = await manager.query(
      `SELECT ${COLUMNS}, p.group_id, p.customer_id, p.cleared FROM price_overrides p WHERE p.tenant_id = $1 ORDER BY p.effective_from, p.created_at`,
      [tenantId],
    );
    const members: Array<{ customer_id: string; group_id: string }> = await manager.query(
      `SELECT customer_id, group_id FROM customer_group_members WHERE tenant_id = $1`,
      [tenantId],
    );
    const rules: PriceRulesData = { markup: [], groupFactors: new Map(), groupOverrides: new Map(), customerOverrides: new Map(), members: new Map() };
    for (const f of factors) {
      const version: FactorVersion = { id: f.id, factor: f.factor === null ? null : trimDecimal(f.factor), effectiveFrom: f.effective_from };
      if (f.group_id === null) rules.markup.push(version);
      else push(rules.groupFactors, f.group_id, version);
    }
    for (const o of overrides) {
      const version: OverrideVersion = { id: o.id, price: o.cleared ? null : toVersion(o).price, effectiveFrom: o.effective_from };
      if (o.customer_id) push(rules.customerOverrides, `${o.customer_id}\u0000${o.model}`, version);
      else push(rules.groupOverrides, `${o.group_id}\u0000${o.model}`, version);
    }
    for (const m of members) rules.members.set(m.customer_id, m.group_id);
    return rules;
  }

  /** Every version of a model in one list, newest effective first, with who set it. */
  async history(manager: EntityManager, list: 'platform' | { tenantId: string }, model: string): Promise<Array<PriceVersion & { setByEmail: string | null }>> {
    const rows: PriceRow[] =
      list === 'platform'
        ? await manager.query(
            `SELECT ${COLUMNS}, u.email AS set_by_email FROM platform_prices p LEFT JOIN users u ON u.id = p.set_by
              WHERE p.model = $1 ORDER BY p.effective_from DESC, p.created_at DESC`,
            [model],
          )
        : await manager.query(
            `SELECT ${COLUMNS}, u.email AS set_by_email FROM tenant_prices p LEFT JOIN users u ON u.id = p.set_by
              WHERE p.tenant_id = $1 AND p.model = $2 ORDER BY p.effective_from DESC, p.created_at DESC`,
            [list.tenantId, model],
          );
    return rows.map(toVersion);
  }

  async platformKnows(manager: EntityManager, model: string): Promise<boolean> {
    const rows = await manager.query(`SELECT 1 FROM platform_prices WHERE model = $1 LIMIT 1`, [model]);
    return rows.length > 0;
  }

  /** The models among `models` the platform has no price for. */
  async unknownModels(manager: EntityManager, models: string[]): Promise<string[]> {
    if (models.length === 0) return [];
    const rows: Array<{ model: string }> = await manager.query(
      `SELECT m AS model FROM unnest($1::text[]) AS m WHERE NOT EXISTS (SELECT 1 FROM platform_prices p WHERE p.model = m)`,
      [models],
    );
    return rows.map((r) => r.model);
  }

  /** Inserts a version; false if one already takes effect at exactly that time. */
  async insert(manager: EntityManager, list: 'platform' | { tenantId: string }, input: NewPrice): Promise<string | null> {
    const id = uuidv7();
    const p = input.price;
    const values = [id, input.model, p.inputPerMillion, p.outputPerMillion, p.cacheReadPerMillion ?? null, p.cacheWritePerMillion ?? null, p.perRequest ?? null, input.effectiveFrom, input.setBy,
      p.cacheWrite1hPerMillion ?? null, p.reasoningPerMillion ?? null, p.unit ?? 'token', p.imagePrices ? JSON.stringify(p.imagePrices) : null];
    const rows =
      list === 'platform'
        ? await manager.query(
            `INSERT INTO platform_prices (id, model, input_per_million, output_per_million, cache_read_per_million, cache_write_per_million, per_request, effective_from, set_by,
                                          cache_write_1h_per_million, reasoning_per_million, unit, image_prices)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING RETURNING id`,
            values,
          )
        : await manager.query(
            `INSERT INTO tenant_prices (id, model, input_per_million, output_per_million, cache_read_per_million, cache_write_per_million, per_request, effective_from, set_by,
                                        cache_write_1h_per_million, reasoning_per_million, unit, image_prices, tenant_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING RETURNING id`,
            [...values, list.tenantId],
          );
    return rows.length > 0 ? id : null;
  }

  /** Hides or shows a model; returns whether anything changed. */
  async setHidden(manager: EntityManager, tenantId: string, model: string, hidden: boolean, by: string): Promise<boolean> {
    const rows = hidden
      ? await manager.query(
          `INSERT INTO tenant_hidden_models (tenant_id, model, hidden_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING model`,
          [tenantId, model, by],
        )
      : await manager.query(`DELETE FROM tenant_hidden_models WHERE tenant_id = $1 AND model = $2 RETURNING model`, [tenantId, model]);
    return (Array.isArray(rows[0]) ? rows[0] : rows).length > 0;
  }

  async discount(manager: EntityManager, tenantId: string): Promise<string | null> {
    const [row] = await manager.query(`SELECT percent FROM reseller_wholesale_discounts WHERE tenant_id = $1`, [tenantId]);
    return row ? trimDecimal(row.percent) : null;
  }

  async setDiscount(manager: EntityManager, tenantId: string, percent: string, by: string): Promise<void> {
    await manager.query(
      `INSERT INTO reseller_wholesale_discounts (tenant_id, percent, set_by) VALUES ($1, $2, $3)
       ON CONFLICT (tenant_id) DO UPDATE SET percent = EXCLUDED.percent, set_by = EXCLUDED.set_by, updated_at = now()`,
      [tenantId, percent, by],
    );
  }
}
