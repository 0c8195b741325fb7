import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, IsUUID, Matches, Max, Min } from 'class-validator';

export class AuditQuery {
  @ApiPropertyOptional({ format: 'uuid', description: 'Only this tenant (platform readers)' })
  @IsOptional()
  @IsUUID()
  tenantId?: string;

  @ApiPropertyOptional({ example: 'member.invited' })
  @IsOptional()
  @IsString()
  @Matches(/^[a-z_.]{1,64}$/)
  action?: string;

  @ApiPropertyOptional({ example: 'Member' })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z]{1,64}$/)
  subjectType?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9-]{1,64}$/)
  subjectId?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  actorUserId?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Entries older than this entry id (the previous page\'s nextCursor)' })
  @IsOptional()
  @IsUUID()
  cursor?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 200, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;
}

export type ActorKind = 'member' | 'platform_staff' | 'system';

export class AuditEntryView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) tenantId: string;
  @ApiProperty({
    enum: ['member', 'platform_staff', 'system'],
    description: "Who acted: a member of the entry's tenant, platform staff (shown to resellers without their id, IP or user agent), or the system",
  })
  actorKind: ActorKind;
  @ApiPropertyOptional({ format: 'uuid', nullable: true }) actorUserId: string | null;
  @ApiPropertyOptional({ format: 'uuid', nullable: true }) actorTenantId: string | null;
  @ApiProperty() action: string;
  @ApiProperty() subjectType: string;
  @ApiPropertyOptional({ nullable: true }) subjectId: string | null;
  @ApiPropertyOptional({ nullable: true, type: 'object', additionalProperties: true }) changes: Record<string, unknown> | null;
  @ApiPropertyOptional({ nullable: true }) ip: string | null;
  @ApiPropertyOptional({ nullable: true }) userAgent: string | null;
  @ApiPropertyOptional({ nullable: true }) requestId: string | null;
  @ApiProperty() createdAt: Date;
}

export class AuditPage {
  @ApiProperty({ type: [AuditEntryView] }) items: AuditEntryView[];
  @ApiPropertyOptional({ format: 'uuid', nullable: true, description: 'Pass as cursor for the next page; null at the end' })
  nextCursor: string | null;
}
