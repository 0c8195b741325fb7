import { Inject, Injectable } from '@nestjs/common';
import { AppException, CommonErrorCode } from '@app/errors';
import { REDIS } from '@app/redis';
import Redis from 'ioredis';

/**
 * Access tokens are short-lived and stateless; logout and revoked sessions are denied until the
 * token would expire anyway through Redis keys that live exactly that long. If Redis cannot be
 * asked, the request is refused (fail closed) rather than let a revoked token through.
 */
@Injectable()
export class Revocations {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async revokeToken(tokenId: string, expiresAtSeconds: number): Promise<void> {
    await this.redis.set(`auth:revoked:jti:${tokenId}`, '1', 'EX', this.ttl(expiresAtSeconds));
  }

  /** Denies every access token of a session; they all expire within the access-token lifetime. */
  async revokeSession(sessionId: string, accessTokenTtlSeconds: number): Promise<void> {
    await this.redis.set(`auth:revoked:sid:${sessionId}`, '1', 'EX', accessTokenTtlSeconds + 5);
  }

  async isRevoked(tokenId: string, sessionId: string): Promise<boolean> {
    try {
      // Two GETs sent together, not one MGET: the two keys hash to different slots, which MGET
      // refuses on Redis Cluster (CROSSSLOT); both are in flight at once, so it is still one wait.
      const [token, session] = await Promise.all([this.redis.get(`auth:revoked:jti:${tokenId}`), this.redis.get(`auth:revoked:sid:${sessionId}`)]);
      return token !== null || session !== null;
    } catch {
      throw AppException.common(
        // Fail closed: without Redis we cannot know whether this token was revoked.
        CommonErrorCode.ServiceUnavailable,
        503,
        'Sign-in state cannot be checked right now; retry shortly.',
        { retryAfterSeconds: 2 },
      );
    }
  }

  private ttl(expiresAtSeconds: number): number {
    return Math.max(1, Math.ceil(expiresAtSeconds - Date.now() / 1000) + 5);
  }
}
