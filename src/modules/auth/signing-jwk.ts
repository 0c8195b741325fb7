import { exportJWK, generateKeyPair, JWK } from 'jose';
import { v7 as uuidv7 } from 'uuid';

export const ACCESS_TOKEN_ALGORITHM = 'ES256';

/** A new ES256 private JWK with a kid, for JWT_SIGNING_KEYS. (No app imports: test setup uses it.) */
export async function generateSigningJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair(ACCESS_TOKEN_ALGORITHM, { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: uuidv7(), alg: ACCESS_TOKEN_ALGORITHM, use: 'sig' };
}
