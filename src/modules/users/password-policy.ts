/** Passwords that pass the length and class rules but are guessed first. */
const COMMON_WORDS = ['password', 'passw0rd', 'qwerty', 'letmein', 'welcome', 'admin', 'changeme', 'iloveyou', '123456', 'aigateway'] as const;

const CHARACTER_CLASSES = [
  { name: 'lower case', pattern: /[a-z]/ },
  { name: 'upper case', pattern: /[A-Z]/ },
  { name: 'digits', pattern: /[0-9]/ },
  { name: 'symbols', pattern: /[^A-Za-z0-9]/ },
] as const;

/** Stable codes of the password rules: clients branch on them, never on the message. */
export enum PasswordRuleCode {
  MinLength = 'min_length',
  MaxLength = 'max_length',
  CharacterMix = 'character_mix',
  DistinctCharacters = 'distinct_characters',
  CommonWord = 'common_word',
  ContainsEmail = 'contains_email',
}

/**
 * The password policy as data, so a client can show the rules before anyone types (the public
 * `GET /api/v1/auth/password-policy` serves it) and check them as the user types. `rules` lists
 * every rule, in the order they are checked, with its stable code and its message.
 */
export const PASSWORD_POLICY = {
  minLength: 12,
  maxLength: 128,
  /** At least this many of `characterClasses`... */
  minCharacterClasses: 3,
  characterClasses: CHARACTER_CLASSES.map((c) => c.name),
  /** ...unless the password is at least this long (a passphrase). */
  passphraseLength: 16,
  minDistinctCharacters: 5,
  commonWords: [...COMMON_WORDS],
  /** The part of the e-mail address before `@` may not appear when it is at least this long. */
  emailLocalPartMinLength: 4,
} as const;

export interface PasswordRule {
  code: PasswordRuleCode;
  message: string;
}

export const PASSWORD_RULES: readonly PasswordRule[] = [
  { code: PasswordRuleCode.MinLength, message: `must be at least ${PASSWORD_POLICY.minLength} characters long` },
  { code: PasswordRuleCode.MaxLength, message: `must be at most ${PASSWORD_POLICY.maxLength} characters long` },
  {
    code: PasswordRuleCode.CharacterMix,
    message: `must mix at least ${PASSWORD_POLICY.minCharacterClasses} of lower case, upper case, digits and symbols, or be ${PASSWORD_POLICY.passphraseLength}+ characters`,
  },
  { code: PasswordRuleCode.DistinctCharacters, message: `must use at least ${PASSWORD_POLICY.minDistinctCharacters} different characters` },
  { code: PasswordRuleCode.CommonWord, message: 'must not contain a common word (password, qwerty, 123456, ...)' },
  { code: PasswordRuleCode.ContainsEmail, message: 'must not contain the e-mail address' },
];

const RULE = new Map(PASSWORD_RULES.map((rule) => [rule.code, rule]));

/** Every rule the password breaks (all of them at once, in the order of PASSWORD_RULES); empty when it is acceptable. */
export function passwordFailures(password: string, email?: string): PasswordRule[] {
  const failed = new Set<PasswordRuleCode>();
  const length = [...password].length;
  if (length < PASSWORD_POLICY.minLength) failed.add(PasswordRuleCode.MinLength);
  if (length > PASSWORD_POLICY.maxLength) failed.add(PasswordRuleCode.MaxLength);
  const classes = CHARACTER_CLASSES.filter((c) => c.pattern.test(password)).length;
  if (classes < PASSWORD_POLICY.minCharacterClasses && length < PASSWORD_POLICY.passphraseLength) failed.add(PasswordRuleCode.CharacterMix);
  if (new Set(password).size < PASSWORD_POLICY.minDistinctCharacters) failed.add(PasswordRuleCode.DistinctCharacters);
  const lower = password.toLowerCase();
  if (COMMON_WORDS.some((word) => lower.includes(word))) failed.add(PasswordRuleCode.CommonWord);
  const local = email?.split('@')[0]?.toLowerCase();
  if (local && local.length >= PASSWORD_POLICY.emailLocalPartMinLength && lower.includes(local)) failed.add(PasswordRuleCode.ContainsEmail);
  return PASSWORD_RULES.filter((rule) => failed.has(rule.code)).map((rule) => RULE.get(rule.code)!);
}

/** The failed rules as one sentence ("The password must ...; must ..."), or null when it is acceptable (the cli's message). */
export function passwordWeakness(password: string, email?: string): string | null {
  const failures = passwordFailures(password, email);
  return failures.length ? failures.map((f) => f.message).join('; ') : null;
}
