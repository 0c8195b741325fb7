import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { MODEL_NAME_PATTERN, PRESET_IDS, PROVIDER_TYPES } from '@app/providers';
import { PageMeta, PageQuery } from '../../../common/pagination';
import { IsDecimalAmount } from '../../../common/money.validators';

const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);
const DECIMAL = /^(0|[1-9]\d{0,17})(\.\d{1,9})?$/;
const DECIMAL_MESSAGE = 'must be a decimal string with at most 9 decimals, e.g. "2.5"';
export const CHANNEL_STATUSES = ['enabled', 'disabled', 'auto_disabled', 'quota_exhausted'] as const;
export const CHANNEL_POOLS = ['standard', 'spot'] as const;

export class ModelMappingDto {
  @ApiProperty({ example: 'claude-sonnet-*', description: 'Public model name; one `*` matches anything' })
  @IsString()
  @MaxLength(200)
  @Matches(MODEL_NAME_PATTERN, { message: 'public must be a model name with at most one *' })
  public: string;

  @ApiPropertyOptional({ example: 'claude-sonnet-4-*', description: "The upstream's name (a `*` takes what the public `*` matched); default: the public name", nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @Matches(/^[A-Za-z0-9._:/@*-]+$/, { message: 'upstream must be a model name' })
  upstream?: string | null;
}

export class ModelCostDto {
  @ApiProperty({ example: 'claude-sonnet-4-5', description: 'Upstream model name' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  model: string;

  @ApiProperty({ example: '3', description: 'Upstream price per million input tokens (decimal string)' })
  @Matches(DECIMAL, { message: `inputPerMillion ${DECIMAL_MESSAGE}` })
  inputPerMillion: string;

  @ApiProperty({ example: '15' })
  @Matches(DECIMAL, { message: `outputPerMillion ${DECIMAL_MESSAGE}` })
  outputPerMillion: string;

  @ApiProperty({ example: '0.3' })
  @Matches(DECIMAL, { message: `cachedInputPerMillion ${DECIMAL_MESSAGE}` })
  cachedInputPerMillion: string;
}

export class ChannelSettingsDto {
  @ApiPropertyOptional({ enum: PRESET_IDS, description: 'openai channels: the OpenAI-compatible service (its quirks); see GET /api/v1/channels/presets' })
  @IsOptional()
  @IsIn(PRESET_IDS)
  preset?: string;

  @ApiPropertyOptional({ example: '2024-10-21', description: "azure: the data plane's api-version (default 2024-10-21)" })
  @IsOptional()
  @Matches(/^\d{4}-\d{2}-\d{2}(-preview)?$/, { message: 'apiVersion must look like 2024-10-21 or 2025-04-01-preview' })
  apiVersion?: string;

  @ApiPropertyOptional({ example: 'us-east-1', description: 'bedrock: the AWS region (required)' })
  @IsOptional()
  @Matches(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/, { message: 'region must be an AWS region such as us-east-1' })
  region?: string;

  @ApiPropertyOptional({ example: 'my-project', description: 'vertex: the Google Cloud project id (required)' })
  @IsOptional()
  @Matches(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, { message: 'projectId must be a Google Cloud project id' })
  projectId?: string;

  @ApiPropertyOptional({ example: 'us-east5', description: 'vertex: the location (required; `global` for the global endpoint)' })
  @IsOptional()
  @Matches(/^([a-z]+-[a-z]+\d{1,2}|global)$/, { message: 'location must be a Google Cloud location such as us-east5' })
  location?: string;
}

class ChannelFields {
  @ApiPropertyOptional({ type: ChannelSettingsDto, description: 'Provider settings (not secret): preset, apiVersion, region, projectId, location' })
  @IsOptional()
  @ValidateNested()
  @Type(() => ChannelSettingsDto)
  settings?: ChannelSettingsDto;

  @ApiPropertyOptional({ type: [ModelMappingDto] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(500)
  @ValidateNested({ each: true })
  @Type(() => ModelMappingDto)
  models?: ModelMappingDto[];

  @ApiPropertyOptional({ default: 0, description: 'Higher is tried first' })
  @IsOptional()
  @IsInt()
  @Min(-1000)
  @Max(1000)
  priority?: number;

  @ApiPropertyOptional({ default: 1, description: 'Share of traffic within its priority (0: none)' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(10000)
  weight?: number;

  @ApiPropertyOptional({ enum: CHANNEL_POOLS, default: 'standard' })
  @IsOptional()
  @IsIn(CHANNEL_POOLS)
  pool?: (typeof CHANNEL_POOLS)[number];

  @ApiPropertyOptional({ default: 5000 })
  @IsOptional()
  @IsInt()
  @Min(100)
  @Max(60000)
  connectTimeoutMs?: number;

  @ApiPropertyOptional({ default: 60000 })
  @IsOptional()
  @IsInt()
  @Min(100)
  @Max(600000)
  firstByteTimeoutMs?: number;

  @ApiPropertyOptional({ default: 600000 })
  @IsOptional()
  @IsInt()
  @Min(100)
  @Max(3600000)
  totalTimeoutMs?: number;

  @ApiPropertyOptional({ default: 2, description: 'Further channels tried after a failure before the first byte' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(10)
  retryBudget?: number;

  @ApiPropertyOptional({ nullable: true, type: Number, example: 600, description: "Requests per minute this channel takes (a sliding minute, across every api instance); a channel at its limit is skipped. null: none" })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  rpmLimit?: number | null;

  @ApiPropertyOptional({ nullable: true, type: Number, example: 400000, description: "Tokens per minute (the prompt's estimate and the output cap while a request runs, then what it used); null: none" })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(2_000_000_000)
  tpmLimit?: number | null;

  @ApiPropertyOptional({
    nullable: true,
    type: String,
    example: '50',
    description: "The upstream's cost this channel may spend per UTC day, in the currency unit (priced with the channel's costs); null: none",
  })
  @IsOptional()
  @IsDecimalAmount({ maxDecimals: 9, max: '999999999' })
  dailySpendCap?: string | null;

  @ApiPropertyOptional({ type: [ModelCostDto], description: 'Upstream cost per model, for margin reports' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(500)
  @ValidateNested({ each: true })
  @Type(() => ModelCostDto)
  costs?: ModelCostDto[];
}

export class CreateChannelRequest extends ChannelFields {
  @ApiProperty({ example: 'anthropic-main' })
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  name: string;

  @ApiProperty({ enum: PROVIDER_TYPES })
  @IsIn(PROVIDER_TYPES)
  provider: (typeof PROVIDER_TYPES)[number];

  @ApiProperty({ example: 'https://api.anthropic.com', description: 'http or https; OpenAI-compatible ones include /v1' })
  @IsString()
  @MaxLength(2000)
  @Matches(/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, { message: 'baseUrl must be an http:// or https:// URL without query or fragment' })
  baseUrl: string;

  @ApiProperty({
    type: [String],
    description:
      'Upstream API keys, used round-robin; write-only (only the last 4 characters are ever shown). bedrock: ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]; vertex: a service-account key (JSON)',
    writeOnly: true,
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @MinLength(8, { each: true })
  @MaxLength(8000, { each: true })
  keys: string[];
}

export class UpdateChannelRequest extends ChannelFields {
  @ApiPropertyOptional()
  @IsOptional()
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  name?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  @Matches(/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, { message: 'baseUrl must be an http:// or https:// URL without query or fragment' })
  baseUrl?: string;

  @ApiPropertyOptional({ type: [String], description: 'Keys to add (write-only)', writeOnly: true })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @MinLength(8, { each: true })
  @MaxLength(8000, { each: true })
  addKeys?: string[];

  @ApiPropertyOptional({ type: [String], description: 'Ids of keys to remove' })
  @IsOptional()
  @IsArray()
  @Matches(/^[0-9a-f-]{36}$/i, { each: true, message: 'removeKeys must hold key ids' })
  removeKeys?: string[];

  @ApiPropertyOptional({ type: [String], description: 'Ids of disabled keys to use again' })
  @IsOptional()
  @IsArray()
  @Matches(/^[0-9a-f-]{36}$/i, { each: true, message: 'enableKeys must hold key ids' })
  enableKeys?: string[];
}

export class ChannelListQuery extends PageQuery {
  @ApiPropertyOptional({ description: 'Part of the name, the base URL or a mapped model name' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  q?: string;

  @ApiPropertyOptional({ description: 'Part of a public or upstream model name the channel maps' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  model?: string;

  @ApiPropertyOptional({ enum: CHANNEL_STATUSES })
  @IsOptional()
  @IsIn(CHANNEL_STATUSES)
  status?: (typeof CHANNEL_STATUSES)[number];

  @ApiPropertyOptional({ enum: PROVIDER_TYPES })
  @IsOptional()
  @IsIn(PROVIDER_TYPES)
  provider?: (typeof PROVIDER_TYPES)[number];
}

export class ChannelKeyView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'x9Qz', description: 'Last four characters; the key itself is never shown' }) last4: string;
  @ApiProperty({ enum: ['active', 'disabled'] }) status: 'active' | 'disabled';
  @ApiProperty({ nullable: true, type: String, example: 'upstream answered 401' }) disabledReason: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) disabledAt: Date | null;
}

export class ChannelHealthView {
  @ApiProperty() checkFailures: number;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) lastCheckAt: Date | null;
  @ApiProperty({ nullable: true, type: Number }) lastCheckLatencyMs: number | null;
  @ApiProperty({ nullable: true, type: String }) lastCheckError: string | null;
}

export class ChannelLimitsView {
  @ApiProperty({ nullable: true, type: Number }) rpm: number | null;
  @ApiProperty({ nullable: true, type: Number }) tpm: number | null;
  @ApiProperty({ nullable: true, type: String, example: '50', description: 'Currency units per UTC day' }) dailySpendCap: string | null;
  @ApiProperty({ description: 'Requests in the last 60 s (0 when the channel has no limits: only limited channels are counted)' }) requestsLastMinute: number;
  @ApiProperty({ description: 'Tokens counted this minute' }) tokensThisMinute: number;
  @ApiProperty({ example: '12.5', description: "Upstream cost counted today (UTC), from when a cap was set" }) spentToday: string;
}

export class ChannelBalanceView {
  @ApiProperty({ nullable: true, type: String, example: '110.5', description: 'As the upstream reported it' }) amount: string | null;
  @ApiProperty({ nullable: true, type: String, example: 'CNY' }) currency: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) checkedAt: Date | null;
  @ApiProperty({ nullable: true, type: String, description: 'Why the last reading failed' }) error: string | null;
}

export class ChannelView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty({ enum: PROVIDER_TYPES }) provider: string;
  @ApiProperty() baseUrl: string;
  @ApiProperty({ type: [ModelMappingDto] }) models: ModelMappingDto[];
  @ApiProperty() priority: number;
  @ApiProperty() weight: number;
  @ApiProperty({ enum: CHANNEL_POOLS }) pool: string;
  @ApiProperty() connectTimeoutMs: number;
  @ApiProperty() firstByteTimeoutMs: number;
  @ApiProperty() totalTimeoutMs: number;
  @ApiProperty() retryBudget: number;
  @ApiProperty({ type: ChannelSettingsDto }) settings: ChannelSettingsDto;
  @ApiProperty({ enum: CHANNEL_STATUSES }) status: string;
  @ApiProperty({ nullable: true, type: String }) statusReason: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) statusChangedAt: Date | null;
  @ApiProperty({ type: [ChannelKeyView] }) keys: ChannelKeyView[];
  @ApiProperty({ type: [ModelCostDto] }) costs: ModelCostDto[];
  @ApiProperty({ type: ChannelHealthView }) health: ChannelHealthView;
  @ApiProperty({ nullable: true, enum: ['closed', 'open', 'half_open'], description: "The circuit breaker as the api instance that answered sees it (each instance keeps its own); null: not routed" })
  breaker: string | null;
  @ApiProperty({ type: ChannelLimitsView }) limits: ChannelLimitsView;
  @ApiProperty({ nullable: true, type: ChannelBalanceView, description: 'The upstream account balance, for presets whose service reports one (DeepSeek, Kimi, OpenRouter); null otherwise' })
  balance: ChannelBalanceView | null;
  @ApiProperty({ format: 'date-time' }) createdAt: Date;
  @ApiProperty({ format: 'date-time' }) updatedAt: Date;
}

export class ChannelPage extends PageMeta {
  @ApiProperty({ type: [ChannelView] }) items: ChannelView[];
}

export class TestChannelRequest {
  @ApiPropertyOptional({ example: 'gpt-4o-mini', description: "Upstream model to ask; default: the channel's first model without a wildcard" })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @Matches(/^[A-Za-z0-9._:/@-]+$/, { message: 'model must be a model name' })
  model?: string;
}

export class ChannelTestResult {
  @ApiProperty() ok: boolean;
  @ApiProperty({ description: 'Milliseconds until the upstream answered (or failed)' }) latencyMs: number;
  @ApiProperty({ nullable: true, type: Number, description: "The upstream's HTTP status, when it answered" }) upstreamStatus: number | null;
  @ApiProperty({ nullable: true, type: String, example: 'http_5xx', description: 'Kind of failure' }) errorKind: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'What went wrong, without keys or addresses' }) error: string | null;
}

export class ChannelModelSync {
  @ApiProperty({ type: [String], description: "The upstream's model ids, as it lists them" }) upstreamModels: string[];
  @ApiProperty({ type: [ModelMappingDto], description: 'Mappings for listed models the channel does not route yet (public name = upstream name); apply with PATCH models' })
  proposed: ModelMappingDto[];
  @ApiProperty({ type: [String], description: 'Upstream names the channel routes that the upstream no longer lists' }) missing: string[];
}

export class ChannelPresetView {
  @ApiProperty({ example: 'deepseek' }) id: string;
  @ApiProperty({ example: 'DeepSeek' }) label: string;
  @ApiProperty({ enum: PROVIDER_TYPES }) provider: string;
  @ApiProperty({ example: 'https://api.deepseek.com/v1' }) baseUrl: string;
  @ApiProperty({ type: [String] }) alternativeBaseUrls: string[];
  @ApiProperty({ description: 'Whether the upstream lists its models (GET {base}/models)' }) listsModels: boolean;
  @ApiProperty({ description: "Whether the service reports the account's balance (shown on the channel, read with each health check)" }) reportsBalance: boolean;
  @ApiProperty({ description: 'How it departs from OpenAI, in words' }) notes: string;
}
