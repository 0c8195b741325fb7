import { errorFactory } from '@app/errors';

export enum CustomerErrorCode {
  CustomerExists = 'customer_exists',
  SalespersonNotFound = 'salesperson_not_found',
  NotASalesperson = 'not_a_salesperson',
  SalespersonInactive = 'salesperson_inactive',
  NotAReseller = 'not_a_reseller',
  InvalidRange = 'invalid_range',
  DuplicateItem = 'duplicate_item',
  InvalidCursor = 'invalid_cursor',
}

const MESSAGES: Record<CustomerErrorCode, { status: number; title: string }> = {
  [CustomerErrorCode.CustomerExists]: { status: 409, title: 'This e-mail already belongs to a user of the tenant' },
  [CustomerErrorCode.SalespersonNotFound]: { status: 422, title: 'No member of this tenant has this id' },
  [CustomerErrorCode.NotASalesperson]: { status: 422, title: 'This member does not hold the sales role' },
  [CustomerErrorCode.SalespersonInactive]: { status: 409, title: 'This salesperson is disabled or has not joined yet' },
  [CustomerErrorCode.NotAReseller]: { status: 422, title: 'Only reseller tenants have platform salespeople' },
  [CustomerErrorCode.InvalidRange]: { status: 400, title: 'The time range is invalid' },
  [CustomerErrorCode.DuplicateItem]: { status: 400, title: 'This customer appears more than once in the request' },
  [CustomerErrorCode.InvalidCursor]: { status: 400, title: 'The page cursor is invalid' },
};

export const customerError = errorFactory<CustomerErrorCode>(MESSAGES);
