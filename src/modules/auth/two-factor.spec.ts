import { generate, generateSecret, verify } from 'otplib';
import { normaliseRecoveryCode } from './two-factor';

describe('TOTP primitives', () => {
  it('accepts the current code of a secret and refuses another secret', async () => {
    const secret = generateSecret();
    const token = await generate({ secret });
    expect((await verify({ secret, token, epochTolerance: 30 })).valid).toBe(true);
    expect((await verify({ secret: generateSecret(), token, epochTolerance: 30 })).valid).toBe(false);
  });

  it('reads recovery codes regardless of case, spaces and dashes', () => {
    expect(normaliseRecoveryCode(' ABCDE-fghjk ')).toBe('abcdefghjk');
  });
});
