import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { createPrivateKey, createPublicKey, KeyObject } from 'node:crypto';
import { JWK, SignJWT } from 'jose';
import { ACCESS_TOKEN_ALGORITHM, generateSigningJwk } from './signing-jwk';

export { ACCESS_TOKEN_ALGORITHM, generateSigningJwk };
export const ACCESS_TOKEN_AUDIENCE = 'aigateway-admin';

/**
 * The keys of access tokens: the first configured key signs, every configured key verifies (so
 * keys rotate without logging anyone out), and the public halves are published as a JWKS.
 */
@Injectable()
export class SigningKeys implements OnModuleInit {
  private readonly logger = new Logger(SigningKeys.name);
  private signing!: { kid: string; key: KeyObject };
  private readonly verifying = new Map<string, KeyObject>();
  private publicJwks: JWK[] = [];

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  async onModuleInit(): Promise<void> {
    let jwks = this.config.JWT_SIGNING_KEYS as JWK[] | undefined;
    if (!jwks) {
      this.logger.warn('JWT_SIGNING_KEYS is not set: using a key generated at start; tokens will not survive a restart');
      jwks = [await generateSigningJwk()];
    }
    for (const jwk of jwks) {
      const privateKey = createPrivateKey({ key: jwk as never, format: 'jwk' });
      const publicKey = createPublicKey(privateKey);
      this.verifying.set(jwk.kid!, publicKey);
      const { kty, crv, x, y } = publicKey.export({ format: 'jwk' }) as JWK;
      this.publicJwks.push({ kty, crv, x, y, kid: jwk.kid, alg: ACCESS_TOKEN_ALGORITHM, use: 'sig' });
    }
    this.signing = { kid: jwks[0].kid!, key: createPrivateKey({ key: jwks[0] as never, format: 'jwk' }) };
  }

  sign(claims: Record<string, unknown>, subject: string, ttlSeconds: number, tokenId: string): Promise<string> {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: ACCESS_TOKEN_ALGORITHM, kid: this.signing.kid, typ: 'JWT' })
      .setSubject(subject)
      .setJti(tokenId)
      .setIssuer(this.config.PUBLIC_URL)
      .setAudience(ACCESS_TOKEN_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${ttlSeconds}s`)
      .sign(this.signing.key);
  }

  verificationKey(kid: string | undefined): KeyObject | undefined {
    return kid ? this.verifying.get(kid) : undefined;
  }

  jwks(): { keys: JWK[] } {
    return { keys: this.publicJwks };
  }
}
