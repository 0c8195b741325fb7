import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsEmail,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  IsUrl,
  IsUUID,
  Matches,
  MaxLength,
  MinLength,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { PageMeta, PageQuery } from '../../../common/pagination';

/** Languages the browser console speaks. */
export const CONSOLE_LANGUAGES = ['en', 'zh-CN'] as const;
export type ConsoleLanguage = (typeof CONSOLE_LANGUAGES)[number];

const lowerTrim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim().toLowerCase() : value);
/** Trimmed before validation, so a name of blanks fails MinLength here rather than the database's CHECK (a 500). */
const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;
const DOMAIN_MESSAGE = 'must be a DNS name such as api.example.com (no scheme, port or path)';

export class BrandingDto {
  @ApiPropertyOptional({ example: 'https://cdn.example.com/logo.png' })
  @IsOptional()
  @IsUrl({ protocols: ['https'], require_protocol: true }, { message: 'logoUrl must be an https:// URL' })
  @MaxLength(2000)
  logoUrl?: string;

  @ApiPropertyOptional({ example: '#1f6feb' })
  @IsOptional()
  @Matches(/^#[0-9a-fA-F]{6}$/, { message: 'themeColor must look like #1f6feb' })
  themeColor?: string;

  @ApiPropertyOptional({ example: 'Acme AI' })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  displayName?: string;

  @ApiPropertyOptional({ enum: CONSOLE_LANGUAGES, description: "The console's language before a visitor picks one (default en)" })
  @IsOptional()
  @IsIn(CONSOLE_LANGUAGES)
  defaultLanguage?: string;

  @ApiPropertyOptional({ enum: CONSOLE_LANGUAGES, isArray: true, description: 'Languages the console offers (default: all); must include defaultLanguage' })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayUnique()
  @IsIn(CONSOLE_LANGUAGES, { each: true })
  languages?: string[];

  @ApiPropertyOptional({ example: 'support@acme.example', description: "Where the tenant's customers get help (shown in the console)" })
  @IsOptional()
  @IsEmail()
  @MaxLength(320)
  supportEmail?: string;

  @ApiPropertyOptional({ example: 'https://acme.example/help' })
  @IsOptional()
  @IsUrl({ protocols: ['https'], require_protocol: true }, { message: 'supportUrl must be an https:// URL' })
  @MaxLength(2000)
  supportUrl?: string;
}

export class CreateTenantRequest {
  @ApiProperty({ example: 'acme', description: 'Lower case letters, digits and dashes; unique' })
  @Transform(lowerTrim)
  @Matches(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, { message: 'slug must be 1-63 lower case letters, digits or dashes' })
  slug: string;

  @ApiProperty({ example: 'Acme AI' })
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Parent reseller, for a sub-reseller' })
  @IsOptional()
  @IsUUID()
  parentId?: string;

  @ApiPropertyOptional({ type: BrandingDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => BrandingDto)
  branding?: BrandingDto;

  @ApiPropertyOptional({ type: [String], example: ['api.acme.example'], description: 'The first one is primary' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(20)
  @Transform(({ value }) => (Array.isArray(value) ? value.map((v) => (typeof v === 'string' ? v.trim().toLowerCase() : v)) : value))
  @Matches(DOMAIN, { each: true, message: `each domain ${DOMAIN_MESSAGE}` })
  domains?: string[];
}

export class UpdateTenantRequest {
  @ApiPropertyOptional()
  // Absent means unchanged; null is not a name (IsOptional would let it through to the service).
  @ValidateIf((_, value) => value !== undefined)
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name?: string;

  @ApiPropertyOptional({ type: BrandingDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => BrandingDto)
  branding?: BrandingDto;
}

export class TenantListQuery extends PageQuery {
  @ApiPropertyOptional({ enum: ['active', 'disabled'] })
  @IsOptional()
  @IsIn(['active', 'disabled'])
  status?: 'active' | 'disabled';

  @ApiPropertyOptional({ enum: ['platform', 'reseller'] })
  @IsOptional()
  @IsIn(['platform', 'reseller'])
  type?: 'platform' | 'reseller';

  @ApiPropertyOptional({ description: 'Part of the slug or name' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  q?: string;
}

export class AddDomainRequest {
  @ApiProperty({ example: 'api.acme.example' })
  @Transform(lowerTrim)
  @Matches(DOMAIN, { message: `domain ${DOMAIN_MESSAGE}` })
  domain: string;

  @ApiPropertyOptional({ default: false })
  @IsOptional()
  @IsBoolean()
  isPrimary?: boolean;
}

/** How to prove a pending domain is yours: either one suffices. */
export class DomainVerificationView {
  @ApiProperty({ description: 'The random token both methods must show' }) token: string;
  @ApiProperty({ example: '_aigateway-challenge.api.acme.example', description: 'Create a TXT record of this name…' }) txtName: string;
  @ApiProperty({ description: '…holding this value' }) txtValue: string;
  @ApiProperty({ description: 'Or serve the token (the body, text/plain) at this URL from the domain\'s current web server' }) httpUrl: string;
  @ApiPropertyOptional({ nullable: true, type: Date }) lastCheckedAt: Date | null;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'Why the last check did not verify' }) lastCheckError: string | null;
}

export class DomainView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() domain: string;
  @ApiProperty({ description: 'A pending domain becomes primary (if asked) once verified' }) isPrimary: boolean;
  @ApiProperty({ enum: ['pending', 'verified'], description: 'Only a verified domain serves' }) status: 'pending' | 'verified';
  @ApiPropertyOptional({ type: DomainVerificationView, nullable: true, description: 'While pending' }) verification: DomainVerificationView | null;
  @ApiPropertyOptional({ nullable: true, type: Date }) verifiedAt: Date | null;
  @ApiProperty() createdAt: Date;
}

export class TenantView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: ['platform', 'reseller'] }) type: string;
  @ApiPropertyOptional({ format: 'uuid', nullable: true }) parentId: string | null;
  @ApiProperty() slug: string;
  @ApiProperty() name: string;
  @ApiProperty({ enum: ['active', 'disabled'] }) status: string;
  @ApiProperty({ type: BrandingDto }) branding: BrandingDto;
  @ApiProperty({ type: [DomainView] }) domains: DomainView[];
  @ApiProperty() createdAt: Date;
  @ApiProperty() updatedAt: Date;
}

export class TenantPage extends PageMeta {
  @ApiProperty({ type: [TenantView] }) items: TenantView[];
}
