import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsString, MaxLength, MinLength, ValidateIf } from 'class-validator';
import { CONSOLE_LANGUAGES } from '../../tenants/dto/tenant.dto';

const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);

export class UpdateProfileRequest {
  @ApiPropertyOptional({ nullable: true, example: 'Alice Liu', description: 'null clears it; absent: unchanged' })
  @ValidateIf((_, value) => value !== undefined && value !== null)
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  displayName?: string | null;

  @ApiPropertyOptional({ nullable: true, enum: CONSOLE_LANGUAGES, description: "null: the tenant's default; absent: unchanged" })
  @ValidateIf((_, value) => value !== undefined && value !== null)
  @IsIn(CONSOLE_LANGUAGES)
  preferredLanguage?: string | null;
}

export class ChangePasswordRequest {
  @ApiProperty({ description: 'The password in use now' })
  @IsString()
  @MinLength(1)
  @MaxLength(128)
  currentPassword: string;

  @ApiProperty({ description: 'Checked by the password policy (12+ characters mixing three of lower, upper, digits and symbols, or 16+ of anything)' })
  @IsString()
  @MaxLength(128)
  newPassword: string;
}

export class ChangePasswordResult {
  @ApiProperty({ description: 'Other sessions of yours that were ended (this one stays signed in)' }) sessionsEnded: number;
}

export class SessionView {
  @ApiProperty({ format: 'uuid', description: 'The session id (the access token\'s `sid`)' }) id: string;
  @ApiProperty({ description: 'True for the session of the access token making this call' }) current: boolean;
  @ApiProperty({ format: 'date-time', description: 'When it signed in' }) startedAt: string;
  @ApiProperty({ format: 'date-time', description: 'Its last sign-in or refresh' }) lastActiveAt: string;
  @ApiProperty({ format: 'date-time', description: 'When it ends unless refreshed' }) expiresAt: string;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'Client address of its last sign-in or refresh' }) ip: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) userAgent: string | null;
}

export class SessionList {
  @ApiProperty({ type: [SessionView] }) items: SessionView[];
}
