import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsBoolean, IsDefined, IsEmail, IsIn, IsObject, IsOptional, IsString, MaxLength, MinLength, ValidateNested } from 'class-validator';
import { ALL_ROLES, Role } from '@app/authorization';
import { UniqueItems } from '@app/errors';
import { PageMeta, PageQuery } from '../../../common/pagination';
import { CreateTenantRequest, TenantView } from '../../tenants/dto/tenant.dto';

export class InviteMemberRequest {
  @ApiProperty({ example: 'new.person@example.com' })
  @Transform(({ value }) => (typeof value === 'string' ? value.trim().toLowerCase() : value))
  @IsEmail()
  @MaxLength(320)
  email: string;

  @ApiProperty({ enum: ALL_ROLES, isArray: true, example: ['sales'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(6)
  @UniqueItems()
  @IsIn(ALL_ROLES, { each: true })
  roles: Role[];

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  displayName?: string;
}

export class SetRolesRequest {
  @ApiProperty({ enum: ALL_ROLES, isArray: true, example: ['sales', 'finance'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(6)
  @UniqueItems()
  @IsIn(ALL_ROLES, { each: true })
  roles: Role[];
}

export class MemberListQuery extends PageQuery {
  @ApiPropertyOptional({ enum: ['invited', 'active', 'disabled'] })
  @IsOptional()
  @IsIn(['invited', 'active', 'disabled'])
  status?: 'invited' | 'active' | 'disabled';

  @ApiPropertyOptional({ enum: ALL_ROLES })
  @IsOptional()
  @IsIn(ALL_ROLES)
  role?: Role;

  @ApiPropertyOptional({ description: 'true: staff only (members holding a role other than `user`, i.e. not customers)' })
  @IsOptional()
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean()
  staff?: boolean;

  @ApiPropertyOptional({ description: 'Part of the e-mail or name' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  q?: string;
}

export class MemberView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) tenantId: string;
  @ApiProperty() email: string;
  @ApiPropertyOptional({ nullable: true }) displayName: string | null;
  @ApiProperty({ enum: ['invited', 'active', 'disabled'] }) status: string;
  @ApiProperty({ enum: ALL_ROLES, isArray: true }) roles: Role[];
  @ApiPropertyOptional({ nullable: true }) lastLoginAt: Date | null;
  @ApiProperty() createdAt: Date;
}

export class MemberPage extends PageMeta {
  @ApiProperty({ type: [MemberView] }) items: MemberView[];
}

export class FirstOwner {
  @ApiProperty({ example: 'owner@acme.example' })
  @Transform(({ value }) => (typeof value === 'string' ? value.trim().toLowerCase() : value))
  @IsEmail()
  @MaxLength(320)
  email: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  displayName?: string;
}

/** A reseller, its domains (at least one: the first is primary) and its first owner, created together. */
export class OnboardResellerRequest extends CreateTenantRequest {
  @ApiProperty({ type: [String], example: ['api.acme.example'], description: 'At least one; the first is primary' })
  @ArrayMinSize(1)
  override domains: string[] = [];

  @ApiProperty({ type: FirstOwner, description: 'Invited as owner; the invitation mail goes to the primary domain' })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => FirstOwner)
  owner: FirstOwner;
}

export class OnboardedReseller {
  @ApiProperty({ type: TenantView }) tenant: TenantView;
  @ApiProperty({ type: MemberView }) owner: MemberView;
}
