import { PRICE_UNIT_NAMES, PriceUnitName } from '@app/money';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

import { CONSOLE_LANGUAGES, ConsoleLanguage } from '../../tenants/dto/tenant.dto';

export class SiteSupport {
  @ApiPropertyOptional({ nullable: true, example: 'support@acme.example' }) email: string | null;
  @ApiPropertyOptional({ nullable: true, example: 'https://acme.example/help' }) url: string | null;
}

export class SiteSignUp {
  @ApiProperty({ description: "Whether visitors may create an account themselves (POST /api/v1/auth/register); the owner's choice" }) open: boolean;
  @ApiProperty({ type: [String], description: 'Only addresses at these domains may sign up (empty: any)' }) domains: string[];
}

export class SiteOidc {
  @ApiProperty({ description: 'Whether people may sign in with the tenant\'s identity provider (GET /api/v1/auth/oidc/start)' }) enabled: boolean;
  @ApiPropertyOptional({ nullable: true, type: String, example: 'Acme SSO', description: 'The provider\'s name for the "Sign in with ..." button' }) name: string | null;
}

export class SiteModelPrice {
  @ApiProperty({ example: 'gpt-4o-mini' }) model: string;
  @ApiProperty({ example: '0.15', description: 'Per million input tokens, decimal string in the currency unit' }) inputPerMillion: string;
  @ApiProperty({ example: '0.6', description: 'Per million output tokens' }) outputPerMillion: string;
  @ApiProperty({ example: '0.075', description: 'Per million cached input tokens read (the input price when the model has no cache price)' })
  cacheReadPerMillion: string;
  @ApiProperty({ example: '0.15', description: 'Per million input tokens written to the cache (the input price when the model has no cache price)' })
  cacheWritePerMillion: string;
  @ApiProperty({ example: '0', description: 'Per request, on top of tokens ("0" when none); with unit image, second, search_unit or request: the price of one unit' }) perRequest: string;
  @ApiProperty({ enum: PRICE_UNIT_NAMES, description: 'What the price counts (character: inputPerMillion is per million characters)' }) unit: PriceUnitName;
  @ApiPropertyOptional({ nullable: true, type: 'object', additionalProperties: { type: 'string' }, description: 'unit image: per image by "<size>/<quality>" or "<size>"' })
  imagePrices: Record<string, string> | null;
}

export class SiteView {
  @ApiProperty({ example: 'acme' }) slug: string;
  @ApiProperty({ example: 'Acme AI', description: "The brand's display name (the tenant's name unless branding sets one)" }) name: string;
  @ApiPropertyOptional({ nullable: true, example: 'https://cdn.acme.example/logo.png' }) logoUrl: string | null;
  @ApiPropertyOptional({ nullable: true, example: '#1f6feb' }) themeColor: string | null;
  @ApiProperty({ enum: CONSOLE_LANGUAGES }) defaultLanguage: ConsoleLanguage;
  @ApiProperty({ enum: CONSOLE_LANGUAGES, isArray: true, description: 'Languages offered, the default among them' }) languages: ConsoleLanguage[];
  @ApiProperty({ type: SiteSupport }) support: SiteSupport;
  @ApiProperty({ example: 'USD', description: 'ISO 4217 code of every amount at this tenant' }) currency: string;
  @ApiProperty({ type: SiteSignUp }) signUp: SiteSignUp;
  @ApiProperty({ type: SiteOidc }) oidc: SiteOidc;
  @ApiProperty({ type: [SiteModelPrice], description: "Models the tenant's customers may call (priced, not hidden, served by an enabled channel), with the tenant's retail prices now, sorted by name" })
  models: SiteModelPrice[];
}
