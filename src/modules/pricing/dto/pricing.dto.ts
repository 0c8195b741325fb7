import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsDateString, IsIn, IsOptional, IsUUID, ValidateBy } from 'class-validator';
import { decimalPlaces, isDecimalString, MONEY_SCALE, PRICE_UNIT_NAMES, PriceUnitName } from '@app/money';
import { IsDecimalAmount } from '../../../common/money.validators';

export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$/;
const DECIMAL_DOC = 'Decimal string in the currency unit, at most 9 decimals';

export class SetPriceRequest {
  @ApiProperty({ example: '0.15', description: `Per million input tokens. ${DECIMAL_DOC}` })
  @IsDecimalAmount()
  inputPerMillion: string;

  @ApiProperty({ example: '0.6', description: `Per million output tokens. ${DECIMAL_DOC}` })
  @IsDecimalAmount()
  outputPerMillion: string;

  @ApiPropertyOptional({ nullable: true, example: '0.075', description: `Per million cached input tokens read; absent: billed as input. ${DECIMAL_DOC}` })
  @IsOptional()
  @IsDecimalAmount()
  cacheReadPerMillion?: string | null;

  @ApiPropertyOptional({ nullable: true, example: '0.1875', description: `Per million input tokens written to the cache; absent: billed as input. ${DECIMAL_DOC}` })
  @IsOptional()
  @IsDecimalAmount()
  cacheWritePerMillion?: string | null;

  @ApiPropertyOptional({
    nullable: true,
    example: '6',
    description: `Per million input tokens written to the one-hour cache (Anthropic \`ttl: "1h"\`); absent: twice the input price. ${DECIMAL_DOC}`,
  })
  @IsOptional()
  @IsDecimalAmount()
  cacheWrite1hPerMillion?: string | null;

  @ApiPropertyOptional({ nullable: true, example: '0.6', description: `Per million reasoning tokens (part of the output); absent: billed as output. ${DECIMAL_DOC}` })
  @IsOptional()
  @IsDecimalAmount()
  reasoningPerMillion?: string | null;

  @ApiPropertyOptional({ nullable: true, example: '0', description: `Per request, on top of tokens. ${DECIMAL_DOC}` })
  @IsOptional()
  @IsDecimalAmount()
  perRequest?: string | null;

  @ApiPropertyOptional({
    enum: PRICE_UNIT_NAMES,
    description:
      'What the price counts (default token). token: the per-million prices count tokens. character: inputPerMillion is per million input characters (speech). ' +
      'image, second, search_unit, request: perRequest is the price of one unit (one image, one second of audio, one search unit, one request). ' +
      "A reseller's price takes the platform's unit.",
  })
  @IsOptional()
  @IsIn(PRICE_UNIT_NAMES)
  unit?: PriceUnitName;

  @ApiPropertyOptional({
    nullable: true,
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { '1024x1024/standard': '0.04', '1024x1024/hd': '0.08', '1792x1024': '0.12' },
    description:
      'unit image: the price of one image by size and quality, keys "<size>/<quality>" or "<size>" (any quality); a size and quality not listed costs perRequest. ' +
      `An absent size or quality is looked up as "auto". ${DECIMAL_DOC}`,
  })
  @IsOptional()
  @IsImagePriceTable()
  imagePrices?: Record<string, string> | null;

  @ApiPropertyOptional({ format: 'date-time', description: 'When the price takes effect (default: now; never in the past)' })
  @IsOptional()
  @IsDateString({ strict: true })
  effectiveFrom?: string;
}

const IMAGE_PRICE_KEY = /^[A-Za-z0-9]{1,20}(\/[A-Za-z0-9_-]{1,20})?$/;

/** An object of at most 50 size/quality keys to non-negative decimal strings. */
function IsImagePriceTable(): PropertyDecorator {
  return ValidateBy({
    name: 'isImagePriceTable',
    validator: {
      validate: (value: unknown) =>
        value === null ||
        (typeof value === 'object' &&
          !Array.isArray(value) &&
          Object.keys(value as object).length <= 50 &&
          Object.entries(value as Record<string, unknown>).every(
            ([key, v]) => IMAGE_PRICE_KEY.test(key) && isDecimalString(v) && !v.startsWith('-') && decimalPlaces(v) <= MONEY_SCALE,
          )),
      defaultMessage: () => 'imagePrices must map at most 50 keys "<size>/<quality>" or "<size>" to non-negative decimal strings (e.g. {"1024x1024/hd": "0.08"})',
    },
  });
}

export class PriceListQuery {
  @ApiPropertyOptional({ format: 'uuid', description: "Another tenant's list (platform owner and finance: any reseller); default: your own tenant's" })
  @IsOptional()
  @IsUUID()
  tenantId?: string;
}

export class SetVisibilityRequest {
  @ApiProperty({ description: "true hides the model from the tenant's customers (and from /v1/models)" })
  @IsBoolean()
  hidden: boolean;
}

export class SetDiscountRequest {
  @ApiProperty({ example: '10', description: 'Percent off the platform price, a decimal string 0 <= x < 100 with at most 2 decimals' })
  @IsDecimalAmount({ maxDecimals: 2, max: '99.99' })
  percent: string;
}

export class PriceView {
  @ApiProperty({ example: '0.15' }) inputPerMillion: string;
  @ApiProperty({ example: '0.6' }) outputPerMillion: string;
  @ApiPropertyOptional({ nullable: true }) cacheReadPerMillion: string | null;
  @ApiPropertyOptional({ nullable: true }) cacheWritePerMillion: string | null;
  @ApiPropertyOptional({ nullable: true }) cacheWrite1hPerMillion: string | null;
  @ApiPropertyOptional({ nullable: true }) reasoningPerMillion: string | null;
  @ApiPropertyOptional({ nullable: true, description: 'With unit image, search_unit, second or request: the price of one unit' }) perRequest: string | null;
  @ApiProperty({ enum: PRICE_UNIT_NAMES, description: 'What the price counts' }) unit: PriceUnitName;
  @ApiPropertyOptional({ nullable: true, type: 'object', additionalProperties: { type: 'string' }, description: 'unit image: per image by "<size>/<quality>" or "<size>"' })
  imagePrices: Record<string, string> | null;
}

export class MarginView {
  @ApiProperty() inputPerMillion: string;
  @ApiProperty() outputPerMillion: string;
  @ApiProperty() cacheReadPerMillion: string;
  @ApiProperty() cacheWritePerMillion: string;
  @ApiProperty() cacheWrite1hPerMillion: string;
  @ApiProperty() reasoningPerMillion: string;
  @ApiProperty() perRequest: string;
}

export class SpotPriceView {
  @ApiProperty({ example: '0.6', description: "The spot factor applied to this tenant's retail (its own, else its seller's)" }) factor: string;
  @ApiProperty({ type: PriceView, description: 'What customers pay for a request served by the spot pool' }) price: PriceView;
  @ApiPropertyOptional({ type: PriceView, description: 'Owner and finance only: what the tenant pays for it' }) wholesale?: PriceView;
  @ApiPropertyOptional({ type: MarginView, description: 'Owner and finance only' }) margin?: MarginView;
  @ApiPropertyOptional({ type: [String], description: 'Owner and finance only: buckets the spot wholesale floor raised' }) floorApplied?: string[];
}

export class EffectivePriceView {
  @ApiProperty() model: string;
  @ApiProperty({ type: PriceView, description: 'What customers of this tenant pay now' }) price: PriceView;
  @ApiProperty({ enum: ['own', 'inherited'], description: "inherited: the platform's retail price (the tenant set none)" }) source: 'own' | 'inherited';
  @ApiProperty() effectiveFrom: Date;
  @ApiProperty() hidden: boolean;
  @ApiPropertyOptional({ type: PriceView, description: 'Owner and finance only' }) wholesale?: PriceView;
  @ApiPropertyOptional({ type: MarginView, description: 'retail - wholesale; owner and finance only' }) margin?: MarginView;
  @ApiPropertyOptional({ description: 'Owner and finance only: a platform price change put this retail price below wholesale' }) belowWholesale?: boolean;
  @ApiPropertyOptional({
    enum: ['own', 'markup', 'inherited'],
    description: "Owner and finance only: the rule that set the list price (markup: wholesale x the tenant's markup)",
  })
  rule?: 'own' | 'markup' | 'inherited' | 'customer_override' | 'group_override';
  @ApiPropertyOptional({ nullable: true, type: String, description: 'Owner and finance only: the markup factor applied' }) markup?: string | null;
  @ApiPropertyOptional({
    type: [String],
    description: "Owner and finance of a sub-reseller, when any: buckets where what it pays its parent was lifted to the parent's own cost (its discount would go below it)",
  })
  wholesaleFloorApplied?: string[];
  @ApiPropertyOptional({ type: SpotPriceView, description: 'The spot-pool price (X-Priority: spot), when a spot factor applies to the model' }) spot?: SpotPriceView;
}

export class PriceListView {
  @ApiProperty({ format: 'uuid' }) tenantId: string;
  @ApiProperty({ example: 'USD' }) currency: string;
  @ApiPropertyOptional({ description: 'Wholesale discount in percent (owner and finance of a reseller)' }) wholesaleDiscountPercent?: string;
  @ApiProperty({ type: [EffectivePriceView] }) items: EffectivePriceView[];
}

export class PriceVersionView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() model: string;
  @ApiProperty({ enum: ['platform', 'own'] }) list: 'platform' | 'own';
  @ApiProperty({ type: PriceView }) price: PriceView;
  @ApiProperty() effectiveFrom: Date;
  @ApiPropertyOptional({ nullable: true, format: 'uuid' }) setBy: string | null;
  @ApiPropertyOptional({ nullable: true, description: 'E-mail of who set it, when visible to you' }) setByEmail: string | null;
  @ApiProperty() createdAt: Date;
}

export class PriceHistoryView {
  @ApiProperty() model: string;
  @ApiProperty({ type: [PriceVersionView], description: 'Newest first: own versions, then (for resellers) the platform list it inherits' }) items: PriceVersionView[];
}

export class DiscountView {
  @ApiProperty({ format: 'uuid' }) tenantId: string;
  @ApiProperty({ example: '10' }) percent: string;
}
