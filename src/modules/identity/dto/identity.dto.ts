import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsBoolean, IsEmail, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { IsDecimalAmount } from '../../../common/money.validators';

const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);
const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

export class IdentitySettingsView {
  @ApiProperty({ description: 'Visitors may create a customer account themselves (off by default)' }) signUpEnabled: boolean;
  @ApiProperty({ type: [String], example: ['example.com'], description: 'Only addresses at these domains may sign up; empty: any' }) signUpDomains: string[];
  @ApiProperty({ example: '5.000000000', description: 'Credited to a new customer once, when their address is verified ("0": none)' }) signUpBonus: string;
  @ApiProperty({ description: 'Staff (every role but user) must sign in with two-factor; until they set it up they can do nothing else' })
  requireStaffTwoFactor: boolean;
  @ApiPropertyOptional({ format: 'date-time', nullable: true, type: String }) updatedAt: string | null;
}

export class UpdateIdentitySettingsRequest {
  @ApiPropertyOptional() @IsOptional() @IsBoolean() signUpEnabled?: boolean;

  @ApiPropertyOptional({ type: [String], example: ['example.com'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @Transform(({ value }) => (Array.isArray(value) ? value.map((d) => (typeof d === 'string' ? d.trim().toLowerCase() : d)) : value))
  @Matches(DOMAIN, { each: true, message: 'each domain must be a domain name such as example.com' })
  signUpDomains?: string[];

  @ApiPropertyOptional({ example: '5.00', description: 'Currency units, decimal string; "0" for none' })
  @IsOptional()
  @IsDecimalAmount({ maxDecimals: 9 })
  signUpBonus?: string;

  @ApiPropertyOptional() @IsOptional() @IsBoolean() requireStaffTwoFactor?: boolean;
}

export class RegisterRequest {
  @ApiProperty({ example: 'new.customer@example.com' })
  @Transform(trim)
  @IsEmail()
  @MaxLength(320)
  email: string;

  @ApiProperty({ description: 'Checked by the password policy (see GET /api/v1/auth/password-policy)' })
  @IsString()
  @MinLength(1)
  @MaxLength(128)
  password: string;

  @ApiPropertyOptional({ example: 'Alice Liu' })
  @IsOptional()
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  displayName?: string;
}

export class RegisterResult {
  @ApiProperty({ enum: ['verification_sent'], description: 'The same answer whether or not the address already has an account' }) status: 'verification_sent';
  @ApiProperty({ example: 'If the address can sign up here, a verification link is on its way.' }) message: string;
}

export class VerifyEmailRequest {
  @ApiProperty({ description: 'The token from the verification link' })
  @IsString()
  @MaxLength(200)
  token: string;
}

export class VerifyEmailResult {
  @ApiProperty({ enum: ['verified'] }) status: 'verified';
  @ApiProperty({ example: 'new.customer@example.com' }) email: string;
  @ApiProperty({ example: '5.000000000', description: 'The sign-up bonus credited ("0" when none)' }) bonus: string;
}

export class DeleteAccountRequest {
  @ApiProperty({ description: 'Your current password, to confirm' })
  @IsString()
  @MinLength(1)
  @MaxLength(128)
  password: string;
}

export class ExportProfile {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() email: string;
  @ApiPropertyOptional({ nullable: true, type: String }) displayName: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) preferredLanguage: string | null;
  @ApiProperty() status: string;
  @ApiProperty({ type: [String] }) roles: string[];
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiPropertyOptional({ format: 'date-time', nullable: true, type: String }) lastLoginAt: string | null;
  @ApiPropertyOptional({ format: 'date-time', nullable: true, type: String }) emailVerifiedAt: string | null;
  @ApiProperty() twoFactorEnabled: boolean;
}

export class ExportKey {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty({ description: 'The first characters of the key, as shown in lists (never the secret)' }) prefix: string;
  @ApiProperty() status: string;
  @ApiPropertyOptional({ type: [String], nullable: true }) allowedModels: string[] | null;
  @ApiPropertyOptional({ nullable: true, type: String }) expiresAt: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
}

export class ExportUsage {
  @ApiProperty({ format: 'uuid' }) requestId: string;
  @ApiProperty() model: string;
  @ApiPropertyOptional({ nullable: true, type: String }) apiKeyId: string | null;
  @ApiProperty() inputTokens: string;
  @ApiProperty() outputTokens: string;
  @ApiProperty() cacheReadTokens: string;
  @ApiProperty() cacheWriteTokens: string;
  @ApiProperty({ description: 'What you were charged' }) charge: string;
  @ApiProperty() status: string;
  @ApiPropertyOptional({ nullable: true, type: String }) clientIp: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
}

export class ExportTransaction {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() kind: string;
  @ApiProperty() amount: string;
  @ApiPropertyOptional({ nullable: true, type: String }) note: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
}

export class ExportSession {
  @ApiProperty({ format: 'date-time' }) startedAt: string;
  @ApiPropertyOptional({ nullable: true, type: String }) ip: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) userAgent: string | null;
}

export class PersonalDataExport {
  @ApiProperty({ format: 'date-time' }) exportedAt: string;
  @ApiProperty({ type: ExportProfile }) profile: ExportProfile;
  @ApiProperty({ type: [ExportKey] }) apiKeys: ExportKey[];
  @ApiProperty({ type: [ExportUsage], description: 'Every request you made, oldest first' }) usage: ExportUsage[];
  @ApiProperty({ type: [ExportTransaction], description: 'Every movement of your balance, oldest first' }) transactions: ExportTransaction[];
  @ApiProperty({ example: '12.500000000' }) balance: string;
  @ApiProperty({ type: [ExportSession], description: 'Sign-ins still remembered (IP address and browser)' }) sessions: ExportSession[];
}

export class ErasureResult {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'date-time' }) deletedAt: string;
  @ApiProperty({ description: 'Sessions ended' }) sessionsEnded: number;
  @ApiProperty({ description: 'API keys revoked' }) keysRevoked: number;
}

