import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayUnique, IsArray, IsDateString, IsIn, IsInt, IsOptional, IsString, IsUUID, Matches, Max, MaxLength, Min, MinLength, ValidateBy } from 'class-validator';
import { IsDecimalAmount } from '../../../common/money.validators';
import { PageMeta, PageQuery } from '../../../common/pagination';
import { MODEL_NAME } from '../../pricing/dto/pricing.dto';
import { normalizeCidr } from '../ip-allowlist';

export const MAX_GRACE_SECONDS = 7 * 24 * 3600;
export const DEFAULT_GRACE_SECONDS = 3600;

const IsCidr = () =>
  ValidateBy({
    name: 'isCidr',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && normalizeCidr(value) !== null,
      defaultMessage: () => 'each entry of ipAllowlist must be an IPv4 or IPv6 address or CIDR network (e.g. 203.0.113.0/24, 2001:db8::/32)',
    },
  }, { each: true });

/** The limit fields shared by create and update; null clears a limit. */
class KeyLimits {
  @ApiPropertyOptional({ nullable: true, type: [String], description: 'Models the key may call; null or absent: every model of the tenant' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(200)
  @ArrayUnique()
  @Matches(MODEL_NAME, { each: true, message: 'each entry of allowedModels must be a model name' })
  allowedModels?: string[] | null;

  @ApiPropertyOptional({ nullable: true, minimum: 1, maximum: 1_000_000, description: 'Requests per minute (null: no key limit)' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  rpmLimit?: number | null;

  @ApiPropertyOptional({ nullable: true, minimum: 1, maximum: 2_000_000_000, description: 'Tokens per minute (null: no key limit)' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(2_000_000_000)
  tpmLimit?: number | null;

  @ApiPropertyOptional({ nullable: true, minimum: 1, maximum: 100_000_000, description: 'Requests per clock hour (null: no key limit)' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000_000)
  rphLimit?: number | null;

  @ApiPropertyOptional({ nullable: true, minimum: 1, maximum: 2_000_000_000, description: "Requests per day (the tenant's time-zone day) (null: no key limit)" })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(2_000_000_000)
  rpdLimit?: number | null;

  @ApiPropertyOptional({ nullable: true, minimum: 1, maximum: 1_000_000_000_000, description: 'Tokens per clock hour (null: no key limit)' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000_000_000)
  tphLimit?: number | null;

  @ApiPropertyOptional({ nullable: true, minimum: 1, maximum: 1_000_000_000_000, description: "Tokens per day (the tenant's time-zone day) (null: no key limit)" })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000_000_000)
  tpdLimit?: number | null;

  @ApiPropertyOptional({ nullable: true, minimum: 1, maximum: 100_000, description: 'Requests of this key in flight at once; over it, 429 at once (null: the default)' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000)
  concurrencyLimit?: number | null;

  @ApiPropertyOptional({ nullable: true, example: '25.5', description: 'Spend limit in the currency unit, a decimal string with at most 9 decimals (null: none)' })
  @IsOptional()
  @IsDecimalAmount({ maxDecimals: 9, max: '999999999' })
  spendLimit?: string | null;

  @ApiPropertyOptional({ nullable: true, format: 'date-time', description: 'After this time the key is refused (null: never)' })
  @IsOptional()
  @IsDateString({ strict: true })
  expiresAt?: string | null;

  @ApiPropertyOptional({ nullable: true, type: [String], example: ['203.0.113.0/24', '2001:db8::/32'], description: 'Client addresses allowed (null: any)' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsCidr()
  ipAllowlist?: string[] | null;
}

export class CreateKeyRequest extends KeyLimits {
  @ApiProperty({ example: 'CI pipeline' })
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  name: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'The customer (a user of the tenant) who owns the key; default: yourself' })
  @IsOptional()
  @IsUUID()
  customerId?: string;
}

export class UpdateKeyRequest extends KeyLimits {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  name?: string;
}

export class RotateKeyRequest {
  @ApiPropertyOptional({ minimum: 0, maximum: MAX_GRACE_SECONDS, default: DEFAULT_GRACE_SECONDS, description: 'How long the old secret keeps working' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_GRACE_SECONDS)
  gracePeriodSeconds?: number;
}

export class KeyListQuery extends PageQuery {
  @ApiPropertyOptional({ format: 'uuid', description: 'Only keys owned by this customer' })
  @IsOptional()
  @IsUUID()
  userId?: string;

  @ApiPropertyOptional({ enum: ['active', 'disabled', 'revoked', 'suspended'] })
  @IsOptional()
  @IsIn(['active', 'disabled', 'revoked', 'suspended'])
  status?: 'active' | 'disabled' | 'revoked' | 'suspended';
}

export class KeyView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) tenantId: string;
  @ApiProperty({ format: 'uuid' }) customerId: string;
  @ApiProperty() name: string;
  @ApiProperty({ example: 'sk-Ab12Cd', description: 'The first characters of the secret, to recognise it' }) prefix: string;
  @ApiProperty({ enum: ['active', 'disabled', 'revoked', 'suspended'], description: 'suspended: by a risk flag, until the owner resolves it' }) status: string;
  @ApiPropertyOptional({ nullable: true, type: [String] }) allowedModels: string[] | null;
  @ApiPropertyOptional({ nullable: true }) rpmLimit: number | null;
  @ApiPropertyOptional({ nullable: true }) tpmLimit: number | null;
  @ApiPropertyOptional({ nullable: true, description: 'Requests per clock hour' }) rphLimit: number | null;
  @ApiPropertyOptional({ nullable: true, description: "Requests per day (the tenant's time-zone day)" }) rpdLimit: number | null;
  @ApiPropertyOptional({ nullable: true, description: 'Tokens per clock hour' }) tphLimit: number | null;
  @ApiPropertyOptional({ nullable: true, description: "Tokens per day (the tenant's time-zone day)" }) tpdLimit: number | null;
  @ApiPropertyOptional({ nullable: true }) concurrencyLimit: number | null;
  @ApiPropertyOptional({ nullable: true, example: '25.5' }) spendLimit: string | null;
  @ApiProperty({ example: '3.14', description: 'Spent so far with this key' }) spent: string;
  @ApiPropertyOptional({ nullable: true }) expiresAt: Date | null;
  @ApiPropertyOptional({ nullable: true, description: 'When the key was last used (the newest metered request; null: never)' }) lastUsedAt: Date | null;
  @ApiPropertyOptional({ nullable: true, type: [String] }) ipAllowlist: string[] | null;
  @ApiPropertyOptional({ nullable: true, description: 'Until when the secret replaced by the last rotation still works' }) previousSecretExpiresAt: Date | null;
  @ApiPropertyOptional({ nullable: true }) revokedAt: Date | null;
  @ApiPropertyOptional({ nullable: true, format: 'uuid' }) createdBy: string | null;
  @ApiProperty() createdAt: Date;
  @ApiProperty() updatedAt: Date;
}

export class KeyWithSecretView extends KeyView {
  @ApiProperty({ example: 'sk-...', description: 'The secret: shown this once, never again' }) secret: string;
}

export class KeyPage extends PageMeta {
  @ApiProperty({ type: [KeyView] }) items: KeyView[];
}
