/** A short list of passwords that pass length/class rules but are guessed first. */
const COMMON = ['password', 'passw0rd', 'qwerty', 'letmein', 'welcome', 'admin', 'changeme', 'iloveyou', '123456', 'aigateway'];

/**
 * Why a password is too weak, or null when it is acceptable: 12 to 128 characters, at least three
 * of lower case, upper case, digits and symbols (or 16+ characters of anything), no common word,
 * and not built from the e-mail address.
 */
export function passwordWeakness(password: string, email?: string): string | null {
  if (password.length < 12) return 'must be at least 12 characters long';
  if (password.length > 128) return 'must be at most 128 characters long';
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(password)).length;
  if (classes < 3 && password.length < 16) {
    return 'must mix at least three of lower case, upper case, digits and symbols, or be 16+ characters';
  }
  if (new Set(password).size < 5) return 'must not repeat a few characters';
  const lower = password.toLowerCase();
  const common = COMMON.find((word) => lower.includes(word));
  if (common) return `must not contain the common word "${common}"`;
  const local = email?.split('@')[0]?.toLowerCase();
  if (local && local.length >= 4 && lower.includes(local)) return 'must not contain the e-mail address';
  return null;
}
