import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsBoolean, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';

const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);
const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** The owner's OpenID Connect settings as returned: never the client secret, only whether one is set. */
export class OidcSettingsView {
  @ApiProperty({ description: 'Whether a provider is configured at all (false: every other field is its default)' }) configured: boolean;
  @ApiProperty({ description: 'The sign-in page offers "Sign in with <displayName>"' }) enabled: boolean;
  @ApiProperty({ example: 'Acme SSO', description: 'The provider as people know it, shown on the button' }) displayName: string;
  @ApiProperty({ example: 'https://login.acme.example', description: 'The issuer identifier; its /.well-known/openid-configuration is read' }) issuerUrl: string;
  @ApiProperty({ example: 'aigateway-console' }) clientId: string;
  @ApiProperty({ description: 'A client secret is stored (sealed; it is never returned)' }) clientSecretSet: boolean;
  @ApiProperty({ description: 'A person the provider vouches for, with no account here, becomes a customer on first sign-in' }) createAccounts: boolean;
  @ApiProperty({ type: [String], example: ['acme.example'], description: 'Only addresses at these domains may sign in this way; empty: any' }) allowedDomains: string[];
  @ApiProperty({ example: 'https://console.acme.example/api/v1/auth/oidc/callback', description: 'Register this redirect URI at the provider (for this domain)' })
  redirectUri: string;
  @ApiPropertyOptional({ format: 'date-time', nullable: true, type: String }) updatedAt: string | null;
}

export class UpdateOidcSettingsRequest {
  @ApiProperty() @IsBoolean() enabled: boolean;

  @ApiProperty({ example: 'Acme SSO' })
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(60)
  displayName: string;

  @ApiProperty({ example: 'https://login.acme.example' })
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(2048)
  issuerUrl: string;

  @ApiProperty({ example: 'aigateway-console' })
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(512)
  clientId: string;

  @ApiPropertyOptional({ description: 'Required the first time; absent: the stored one stays. Write-only.' })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(1024)
  clientSecret?: string;

  @ApiProperty() @IsBoolean() createAccounts: boolean;

  @ApiPropertyOptional({ type: [String], example: ['acme.example'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @Transform(({ value }) => (Array.isArray(value) ? value.map((d) => (typeof d === 'string' ? d.trim().toLowerCase() : d)) : value))
  @Matches(DOMAIN, { each: true, message: 'each domain must be a domain name such as example.com' })
  allowedDomains?: string[];
}
