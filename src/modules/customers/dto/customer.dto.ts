import { PRICE_UNIT_NAMES, PriceUnitName } from '@app/money';
import { ApiProperty, ApiPropertyOptional, OmitType } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsEmail,
  IsIn,
  IsInt,
  IsISO8601,
  Max,
  Min,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  MaxLength,
  MinLength,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { PageMeta, PageQuery } from '../../../common/pagination';

const USAGE_GROUPS = ['day', 'hour', 'model', 'sales', 'tenant', 'key', 'customer', 'channel'] as const;
export const USAGE_STATUSES = ['ok', 'client_cancelled', 'upstream_error', 'timeout', 'error'] as const;

/** A model name as prices and usage records spell it. */
const USAGE_MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$/;

/** How many items one bulk binding request may carry. */
export const MAX_BULK_BINDINGS = 1000;

const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);
const lowerTrim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim().toLowerCase() : value);

export class CreateCustomerRequest {
  @ApiProperty({ example: 'buyer@example.com' })
  @Transform(lowerTrim)
  @IsEmail()
  @MaxLength(320)
  email: string;

  @ApiPropertyOptional({ example: 'Acme Ltd' })
  @IsOptional()
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  displayName?: string;

  @ApiPropertyOptional({
    format: 'uuid',
    description: 'Bind to this salesperson at once (owner and operator). A salesperson creating a customer is bound to it anyway.',
  })
  @IsOptional()
  @IsUUID()
  salesUserId?: string;
}

export class UpdateCustomerRequest {
  @ApiPropertyOptional({ example: 'Acme Ltd', nullable: true })
  @IsOptional()
  @Transform(trim)
  @ValidateIf((_, value) => value !== null)
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  displayName?: string | null;
}

export const CUSTOMER_SORTS = ['createdAt', '-createdAt', 'email', '-email', 'lastActiveAt', '-lastActiveAt'] as const;
export type CustomerSort = (typeof CUSTOMER_SORTS)[number];

export class CustomerListQuery extends PageQuery {
  @ApiPropertyOptional({ description: 'Part of the e-mail or name' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  q?: string;

  @ApiPropertyOptional({ enum: ['invited', 'active', 'disabled'] })
  @IsOptional()
  @IsIn(['invited', 'active', 'disabled'])
  status?: 'invited' | 'active' | 'disabled';

  @ApiPropertyOptional({ description: 'A salesperson id, or `unbound` for customers without one' })
  @IsOptional()
  @Matches(/^(unbound|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i, { message: 'sales must be a UUID or "unbound"' })
  sales?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Created at or after' })
  @IsOptional()
  @IsISO8601({ strict: true })
  createdFrom?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Created before' })
  @IsOptional()
  @IsISO8601({ strict: true })
  createdTo?: string;

  @ApiPropertyOptional({ enum: CUSTOMER_SORTS, default: '-createdAt' })
  @IsOptional()
  @IsIn(CUSTOMER_SORTS)
  sort?: CustomerSort;
}

export class SetSalesRequest {
  @ApiProperty({ format: 'uuid', description: 'A member of this tenant holding the sales role' })
  @IsUUID()
  salesUserId: string;
}

export class BindingItem {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  customerId: string;

  @ApiProperty({ format: 'uuid', nullable: true, description: 'The salesperson, or null to unbind' })
  @ValidateIf((_, value) => value !== null)
  @IsUUID()
  salesUserId: string | null;
}

export class BulkBindingsRequest {
  @ApiProperty({ type: [BindingItem], maxItems: MAX_BULK_BINDINGS })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BULK_BINDINGS, { message: `items may hold at most ${MAX_BULK_BINDINGS} entries` })
  @ValidateNested({ each: true })
  @Type(() => BindingItem)
  items: BindingItem[];
}

export class BindingResult {
  @ApiProperty({ format: 'uuid' }) customerId: string;
  @ApiProperty({ enum: ['ok', 'error'] }) status: 'ok' | 'error';
  @ApiPropertyOptional({ description: 'Stable problem code when status is error' }) code?: string;
  @ApiPropertyOptional() detail?: string;
  @ApiPropertyOptional({ format: 'uuid', nullable: true, description: 'The salesperson now bound (ok only)' }) salesUserId?: string | null;
}

export class BulkBindingsResponse {
  @ApiProperty() ok: number;
  @ApiProperty() failed: number;
  @ApiProperty({ type: [BindingResult] }) results: BindingResult[];
}

export class SalespersonRef {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiPropertyOptional({ nullable: true, description: 'null once the member was removed' }) email: string | null;
  @ApiPropertyOptional({ nullable: true }) displayName: string | null;
}

export class UsageTotals {
  @ApiProperty() requests: number;
  @ApiProperty() inputTokens: number;
  @ApiProperty() outputTokens: number;
  @ApiProperty() cacheReadTokens: number;
  @ApiProperty() cacheWriteTokens: number;
  @ApiProperty({ example: '12.345000000', description: 'What customers were charged (retail), decimal string' }) spend: string;
  @ApiPropertyOptional({ example: '9.100000000', description: 'Wholesale cost (owner, operator, finance)' }) wholesaleCost?: string;
  @ApiPropertyOptional({ example: '7.000000000', description: 'Upstream cost (platform owner, operator, finance)' }) upstreamCost?: string;
}

export class CustomerView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() email: string;
  @ApiPropertyOptional({ nullable: true }) displayName: string | null;
  @ApiProperty({ enum: ['invited', 'active', 'disabled'] }) status: string;
  @ApiPropertyOptional({ type: SalespersonRef, nullable: true }) salesperson: SalespersonRef | null;
  @ApiPropertyOptional({ nullable: true }) boundAt: Date | null;
  @ApiProperty() createdAt: Date;
  @ApiPropertyOptional({ nullable: true, description: 'Last sign-in or API use' }) lastActiveAt: Date | null;
  @ApiPropertyOptional({ type: UsageTotals, description: 'Usage over the last 30 days (single customer view only)' }) usageLast30Days?: UsageTotals;
}

export class CustomerPage extends PageMeta {
  @ApiProperty({ type: [CustomerView] }) items: CustomerView[];
}

export class BindingPeriodView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ type: SalespersonRef }) salesperson: SalespersonRef;
  @ApiProperty() boundAt: Date;
  @ApiPropertyOptional({ nullable: true }) unboundAt: Date | null;
  @ApiPropertyOptional({ format: 'uuid', nullable: true }) boundBy: string | null;
  @ApiPropertyOptional({ format: 'uuid', nullable: true }) unboundBy: string | null;
  @ApiPropertyOptional({ nullable: true }) unbindReason: string | null;
}

export class UsageQuery {
  @ApiPropertyOptional({ format: 'date-time', description: 'Start (inclusive); default: 30 days before `to`' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'End (exclusive); default: now' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;

  @ApiPropertyOptional({ enum: ['day', 'model'] })
  @IsOptional()
  @IsIn(['day', 'model'])
  groupBy?: 'day' | 'model';
}

export class UsageSummaryQuery {
  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;

  @ApiPropertyOptional({
    enum: USAGE_GROUPS,
    description:
      '`sales`: credited to the salesperson of the time of each request; `key`: by API key id (null: no key); `customer`: by customer id; `channel`: by channel id (platform staff); `hour`: by UTC hour',
  })
  @IsOptional()
  @IsIn(USAGE_GROUPS)
  groupBy?: (typeof USAGE_GROUPS)[number];

  @ApiPropertyOptional({ format: 'uuid', description: 'One tenant of your reach (platform staff)' })
  @IsOptional()
  @IsUUID()
  tenantId?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Only requests made with this API key (within your scope)' })
  @IsOptional()
  @IsUUID()
  keyId?: string;

  @ApiPropertyOptional({ example: 'gpt-4o-mini', description: 'Only requests for this model' })
  @IsOptional()
  @Matches(USAGE_MODEL_NAME, { message: 'model must be 1-200 characters: letters, digits and . _ : / @ + -' })
  model?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Only requests of this customer (within your scope)' })
  @IsOptional()
  @IsUUID()
  customerId?: string;

  @ApiPropertyOptional({ enum: USAGE_STATUSES, description: 'Only requests that ended so' })
  @IsOptional()
  @IsIn(USAGE_STATUSES)
  status?: (typeof USAGE_STATUSES)[number];
}

/** The filters of `GET /api/v1/usage/export.csv`: those of the summary, without grouping. */
export class UsageExportQuery extends OmitType(UsageSummaryQuery, ['groupBy'] as const) {}

export class UsageGroup extends UsageTotals {
  @ApiPropertyOptional({ nullable: true, description: 'The day, model, salesperson id (null: unbound), tenant id or API key id (null: no key)' }) key: string | null;
  @ApiPropertyOptional({ nullable: true, description: "The salesperson's e-mail or the tenant's slug, when grouped so" }) label?: string | null;
}

export class UsageSummary {
  @ApiProperty() from: Date;
  @ApiProperty() to: Date;
  @ApiProperty({ type: UsageTotals }) totals: UsageTotals;
  @ApiPropertyOptional({ type: [UsageGroup] }) groups?: UsageGroup[];
}

export class UsageRecordsQuery extends OmitType(UsageSummaryQuery, ['groupBy', 'from', 'to'] as const) {
  @ApiPropertyOptional({ format: 'date-time', description: 'Start (inclusive); default: 30 days before `to`, or all time with `requestId`' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'End (exclusive); default: now, or all time with `requestId`' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;

  @ApiPropertyOptional({ description: 'The `x-request-id` the inference answer carried (the client\'s own, or the one the gateway made)', maxLength: 128 })
  @IsOptional()
  @Matches(/^[A-Za-z0-9._:-]{1,128}$/, { message: 'requestId must be 1 to 128 letters, digits or ._:-' })
  requestId?: string;

  @ApiPropertyOptional({ description: 'The `nextCursor` of the previous page' })
  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,200}$/, { message: 'cursor must be a cursor this API gave' })
  cursor?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 200, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;
}

export class UsageTopCustomersQuery extends OmitType(UsageSummaryQuery, ['groupBy', 'customerId'] as const) {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 10 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;
}

export class ChannelRef {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiPropertyOptional({ nullable: true }) name: string | null;
}

export class UsageRecordView {
  @ApiProperty({ format: 'uuid', description: 'The usage record (the gateway\'s id of the request)' }) id: string;
  @ApiProperty({ description: 'The `x-request-id` of the answer' }) requestId: string;
  @ApiProperty({ format: 'uuid' }) tenantId: string;
  @ApiProperty({ format: 'uuid' }) customerId: string;
  @ApiPropertyOptional({ nullable: true, type: String, description: "The customer's e-mail (staff, for their own tenant's customers)" }) customerEmail?: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, description: "The customer's name (staff, for their own tenant's customers)" }) customerName?: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, description: "Another tenant's slug (platform views of a reseller's requests)" }) tenantSlug?: string | null;
  @ApiPropertyOptional({ format: 'uuid', nullable: true }) apiKeyId: string | null;
  @ApiPropertyOptional({ nullable: true, description: 'The API key\'s visible prefix' }) keyPrefix?: string | null;
  @ApiPropertyOptional({ nullable: true }) keyName?: string | null;
  @ApiProperty() model: string;
  @ApiPropertyOptional({ nullable: true, description: 'The model name the upstream was asked for' }) upstreamModel?: string | null;
  @ApiPropertyOptional({ type: ChannelRef, nullable: true, description: 'The channel that served it (platform staff only)' }) channel?: ChannelRef | null;
  @ApiProperty({ description: '`ok`, `client_cancelled`, `upstream_error`, `timeout` or `error`' }) status: string;
  @ApiPropertyOptional({ nullable: true }) errorCode: string | null;
  @ApiPropertyOptional({ nullable: true, description: 'What went wrong, in the gateway\'s words (never the upstream\'s)' }) errorMessage?: string | null;
  @ApiPropertyOptional({ nullable: true, description: 'The client\'s address' }) clientIp?: string | null;
  @ApiProperty() stream: boolean;
  @ApiProperty() inputTokens: number;
  @ApiProperty() outputTokens: number;
  @ApiProperty() cacheReadTokens: number;
  @ApiProperty() cacheWriteTokens: number;
  @ApiProperty({ enum: PRICE_UNIT_NAMES, description: 'What the request was billed in' }) unit: PriceUnitName;
  @ApiProperty({ description: 'How many of `unit` were billed (tokens: all token buckets; images; whole seconds of audio; characters; search units; requests)' }) quantity: number;
  @ApiPropertyOptional({ example: '0.000123000', description: 'What the customer was charged (retail), decimal string (everyone who may read usage; not platform tech)' }) spend?: string;
  @ApiPropertyOptional({ description: 'Wholesale cost (owner, operator, finance)' }) wholesaleCost?: string;
  @ApiPropertyOptional({ description: 'Upstream cost (platform owner, operator, finance)' }) upstreamCost?: string;
  @ApiProperty() latencyMs: number;
  @ApiPropertyOptional({ nullable: true }) ttftMs: number | null;
  @ApiProperty() createdAt: Date;
}

export class UsageRecordList {
  @ApiProperty({ type: [UsageRecordView], description: 'Newest first' }) items: UsageRecordView[];
  @ApiPropertyOptional({ nullable: true, description: 'Pass as `cursor` for the next (older) page; null on the last page' }) nextCursor: string | null;
}

export class TopCustomer extends UsageTotals {
  @ApiProperty({ format: 'uuid' }) customerId: string;
  @ApiProperty({ format: 'uuid' }) tenantId: string;
  @ApiPropertyOptional({ nullable: true, description: 'The customer\'s e-mail (staff of the customer\'s own tenant)' }) email?: string | null;
}

export class TopCustomerList {
  @ApiProperty() from: Date;
  @ApiProperty() to: Date;
  @ApiProperty({ type: [TopCustomer], description: 'Highest spend first' }) items: TopCustomer[];
}

export class TenantSalesView {
  @ApiProperty({ format: 'uuid' }) resellerId: string;
  @ApiPropertyOptional({ type: SalespersonRef, nullable: true }) salesperson: SalespersonRef | null;
  @ApiPropertyOptional({ nullable: true }) boundAt: Date | null;
  @ApiProperty({ type: [BindingPeriodView] }) history: BindingPeriodView[];
}
