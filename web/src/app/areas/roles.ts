import type { Me } from './types';

/**
 * A customer: holds the `user` role. The customer portal's own pages (balance, own keys, top-ups,
 * quickstart) are theirs: a staff member's `/me/balance` is not a wallet, and a key made by a
 * salesperson for themself is refused. Staff manage customers' keys and balances from the
 * customer's drawer instead.
 */
export const isCustomer = (me: Me) => me.roles.includes('user');

/** A salesperson and nothing more: their own customers (and their requests) are all they get. */
export const salesOnly = (me: Me) => me.roles.includes('sales') && !me.roles.some((role) => ['owner', 'operator', 'finance'].includes(role));
