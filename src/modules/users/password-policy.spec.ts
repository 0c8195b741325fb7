import { passwordWeakness } from './password-policy';

describe('passwordWeakness', () => {
  it.each([
    ['short', 'Ab1!x', /12 characters/],
    ['one class', 'abcdefghijkl', /three of/],
    ['common word', 'MyPassword123!', /common word/],
    ['repetitive', 'aaaaaaaaaaaaaaaaaaaa', /repeat/],
    ['e-mail based', 'Alice-Secure-2026', /e-mail/],
  ])('refuses a %s password', (_label, password, reason) => {
    expect(passwordWeakness(password, 'alice-secure@example.com')).toMatch(reason);
  });

  it('accepts a strong password', () => {
    expect(passwordWeakness('Correct-Horse-42', 'owner@example.com')).toBeNull();
    expect(passwordWeakness('long lowercase passphrase here')).toBeNull();
  });
});
