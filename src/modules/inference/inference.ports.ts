import { CompiledPrice } from '@app/money';

/**
 * What the inference pipeline needs from the rest of the platform, each answered from memory on a
 * warm instance (DESIGN.md "How it stays fast": no PostgreSQL and no per-request CASL on /v1).
 * The modules that own keys, prices, channels and wallets provide these; the pipeline knows
 * nothing else about them.
 */

/** An API key as the hot path sees it, already checked for the Host's tenant. */
export interface ProxyKey {
  id: string;
  tenantId: string;
  customerId: string;
  /** False when the key, its owner or its tenant is disabled, revoked or past a rotation grace. */
  usable: boolean;
  /** Epoch ms, or null for no expiry. */
  expiresAt: number | null;
  /** Null: every model of the tenant. */
  allowedModels: ReadonlySet<string> | null;
  allowsIp(ip: string | null): boolean;
  rpm: number | null;
  tpm: number | null;
  spendLimitUnits: bigint | null;
}

export interface KeyDirectory {
  /** The key with this SHA-256 (hex) secret hash in this tenant, or null. */
  findBySecretHash(tenantId: string, secretHash: string): Promise<ProxyKey | null>;
}

export interface ModelPricing {
  /** What the tenant's customers pay. */
  retail: CompiledPrice;
  /** What the platform bills the reseller (equal to retail in the platform's own tenant). */
  wholesale: CompiledPrice;
}

export interface PriceDirectory {
  /** The effective price of a model for a tenant at a time, or null when unpriced or hidden. */
  priceFor(tenantId: string, model: string, atMs: number): Promise<ModelPricing | null>;
  /** Models priced and visible in the tenant. */
  visibleModels(tenantId: string, atMs: number): Promise<string[]>;
}

export interface WalletLoader {
  /** Loads the customer's wallet into Redis from the ledger if Redis does not hold it. */
  ensureLoaded(tenantId: string, customerId: string): Promise<void>;
}

export const KEY_DIRECTORY = Symbol('KEY_DIRECTORY');
export const PRICE_DIRECTORY = Symbol('PRICE_DIRECTORY');
export const WALLET_LOADER = Symbol('WALLET_LOADER');
