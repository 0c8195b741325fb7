/**
 * What the pipeline needs from the ledger: a customer's wallet in Redis. Keys, prices and channels
 * come from their modules' runtimes (KeysRuntime, PricingRuntime, ChannelsRuntime), all answered
 * from memory on a warm instance.
 */
export interface WalletLoader {
  /** Loads the customer's wallet into Redis from the ledger if Redis does not hold it. */
  ensureLoaded(tenantId: string, customerId: string): Promise<void>;
}

export const WALLET_LOADER = Symbol('WALLET_LOADER');
