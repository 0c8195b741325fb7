import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsDateString, IsObject, IsOptional, IsString, Matches, MaxLength, MinLength, ValidateIf, ValidateNested } from 'class-validator';
import { IsDecimalAmount } from '../../../common/money.validators';
import { FirstOwner } from '../../members/dto/member.dto';
import { DomainView } from '../../tenants/dto/tenant.dto';

const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

export class CreateSubResellerRequest {
  @ApiProperty({ example: 'acme-east', description: 'Lower case letters, digits and dashes; unique across the platform' })
  @Transform(({ value }) => (typeof value === 'string' ? value.trim().toLowerCase() : value))
  @Matches(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, { message: 'slug must be 1-63 lower case letters, digits or dashes' })
  slug: string;

  @ApiProperty({ example: 'Acme East' })
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name: string;

  @ApiPropertyOptional({ type: [String], example: ['api.acme-east.example'], description: 'The first one is primary' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(20)
  @Transform(({ value }) => (Array.isArray(value) ? value.map((v) => (typeof v === 'string' ? v.trim().toLowerCase() : v)) : value))
  @Matches(DOMAIN, { each: true, message: 'each domain must be a lower case host name such as api.example.com' })
  domains?: string[];

  @ApiPropertyOptional({ example: '10', description: "Percent off your list price that the sub-reseller pays (default 0): never below your own cost" })
  @IsOptional()
  @IsDecimalAmount({ maxDecimals: 2, max: '99.99' })
  wholesaleDiscountPercent?: string;

  @ApiPropertyOptional({
    type: FirstOwner,
    description:
      "Its first owner, invited by mail to the sub-reseller's own verified domain; while it has none the invitation waits (send it again once a domain is verified)",
  })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => FirstOwner)
  owner?: FirstOwner;
}

/** The first owner of a sub-reseller: invited (mailed or waiting for a verified domain) or active. */
export class SubResellerOwnerView {
  @ApiProperty() email: string;
  @ApiProperty({
    enum: ['invited', 'waiting_for_domain', 'active'],
    description: 'invited: the mail went out; waiting_for_domain: no verified domain yet, nothing mailed; active: the owner accepted',
  })
  status: 'invited' | 'waiting_for_domain' | 'active';
}

/** A model whose price to the sub-reseller is (or from a scheduled date will be) lifted to your own cost: its discount would put it below. */
export class FloorLiftView {
  @ApiProperty() model: string;
  @ApiProperty({ description: 'From when (now, or a scheduled price change)' }) from: Date;
}

export class SubResellerView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() slug: string;
  @ApiProperty() name: string;
  @ApiProperty({ enum: ['active', 'disabled'] }) status: string;
  @ApiProperty({ description: "Percent off your list price it pays" }) wholesaleDiscountPercent: string;
  @ApiProperty({ description: 'What it paid you in the current UTC month so far (usage metered), decimal string' }) revenueThisMonth: string;
  @ApiProperty() createdAt: Date;
  @ApiProperty({ type: SubResellerOwnerView, nullable: true, description: 'Its owner (the first active one), else its pending invitation; null when nobody was invited' })
  owner: SubResellerOwnerView | null;
  @ApiProperty({ type: [FloorLiftView], description: 'Models whose price to it is lifted to your cost (the discount would be below it), now or from a scheduled change' })
  floorLifts: FloorLiftView[];
  @ApiProperty({ type: [DomainView], description: 'Its domains: a pending one carries the DNS TXT record (or HTTP token file) that proves it, and serves once verified' })
  domains: DomainView[];
}

export class SubResellerDomainCheck {
  @ApiProperty({ type: DomainView }) domain: DomainView;
  @ApiProperty({ type: SubResellerOwnerView, nullable: true, description: 'Its owner or owner invitation after the check: a waiting invitation is mailed once the domain is verified' })
  owner: SubResellerOwnerView | null;
}

export class SubResellerList {
  @ApiProperty({ type: [SubResellerView] }) items: SubResellerView[];
}

export class SetSpotFactorRequest {
  @ApiProperty({
    nullable: true,
    type: String,
    example: '0.6',
    description: 'Spot price = standard price x factor (0 < factor <= 1, at most 9 decimals); null clears it (the seller\'s factor applies again)',
  })
  @ValidateIf((_, v) => v !== null)
  @IsDecimalAmount({ maxDecimals: 9, max: '1' })
  factor: string | null;

  @ApiPropertyOptional({ description: 'When it takes effect (default now; never in the past)' })
  @IsOptional()
  @IsDateString()
  effectiveFrom?: string;
}

export class SpotFactorView {
  @ApiProperty() model: string;
  @ApiProperty({ nullable: true, type: String }) factor: string | null;
  @ApiProperty() effectiveFrom: Date;
  @ApiProperty({ format: 'uuid' }) versionId: string;
}

export class InviteSubResellerOwnerRequest extends FirstOwner {}
