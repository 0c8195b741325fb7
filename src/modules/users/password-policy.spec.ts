import { PASSWORD_POLICY, PASSWORD_RULES, passwordFailures, PasswordRuleCode, passwordWeakness } from './password-policy';

const codes = (password: string, email?: string) => passwordFailures(password, email).map((f) => f.code);

describe('password policy', () => {
  it.each([
    ['short', 'Ab1!x', PasswordRuleCode.MinLength],
    ['one class', 'abcdefghijkl', PasswordRuleCode.CharacterMix],
    ['common word', 'MyPassword123!', PasswordRuleCode.CommonWord],
    ['repetitive', 'aaaaaaaaaaaaaaaaaaaa', PasswordRuleCode.DistinctCharacters],
    ['e-mail based', 'Alice-Secure-2026', PasswordRuleCode.ContainsEmail],
    ['overlong', `Aa1!${'x'.repeat(130)}`, PasswordRuleCode.MaxLength],
  ])('refuses a %s password, naming the rule', (_label, password, code) => {
    expect(codes(password, 'alice-secure@example.com')).toEqual([code]);
  });

  it('names every rule a password breaks at once, in the order of the rules, with its message', () => {
    expect(codes('admin', 'admin@example.com')).toEqual([
      PasswordRuleCode.MinLength,
      PasswordRuleCode.CharacterMix,
      PasswordRuleCode.CommonWord,
      PasswordRuleCode.ContainsEmail,
    ]);
    expect(codes('aaa')).toEqual([PasswordRuleCode.MinLength, PasswordRuleCode.CharacterMix, PasswordRuleCode.DistinctCharacters]);
    expect(passwordFailures('aaa')[0]).toEqual({ code: 'min_length', message: 'must be at least 12 characters long' });
    expect(passwordWeakness('aaa')).toBe(passwordFailures('aaa').map((f) => f.message).join('; '));
  });

  it('accepts a strong password', () => {
    expect(passwordFailures('Correct-Horse-42', 'owner@example.com')).toEqual([]);
    expect(passwordWeakness('long lowercase passphrase here')).toBeNull();
  });

  it('publishes every rule with a distinct code, and the numbers the checks use', () => {
    expect(new Set(PASSWORD_RULES.map((r) => r.code)).size).toBe(Object.values(PasswordRuleCode).length);
    expect(PASSWORD_POLICY).toMatchObject({ minLength: 12, maxLength: 128, minCharacterClasses: 3, passphraseLength: 16, minDistinctCharacters: 5 });
    // The boundaries are the published numbers.
    expect(codes('Ab1!Cd2@Ef3#')).toEqual([]);
    expect(codes('Ab1!Cd2@Ef3#'.slice(0, PASSWORD_POLICY.minLength - 1))).toEqual([PasswordRuleCode.MinLength]);
    expect(codes('abcdefghijklmnop')).toEqual([]);
    expect(codes('abcdefghijklmno')).toEqual([PasswordRuleCode.CharacterMix]);
  });
});
