import { Segmented } from 'antd';
import { useTranslation } from 'react-i18next';
import { Language, LANGUAGES, rememberLanguage } from '@/lib/i18n';

const NAMES: Record<Language, string> = { en: 'English', 'zh-CN': '中文' };

/**
 * Switches the console's language (remembered on this browser). A segmented control rather than
 * a select: it is on the sign-in page, whose JavaScript has a budget.
 */
export function LanguageSwitch({ offered, onChange }: { offered?: readonly string[]; onChange?: (language: Language) => void }) {
  const { t, i18n } = useTranslation();
  const languages = LANGUAGES.filter((l) => !offered || offered.length === 0 || offered.includes(l));
  if (languages.length < 2) return null;
  return (
    <Segmented
      aria-label={t('common.language')}
      data-testid="language-switch"
      size="small"
      value={i18n.language as Language}
      onChange={(value) => {
        rememberLanguage(value as Language);
        onChange?.(value as Language);
      }}
      options={languages.map((l) => ({ value: l, label: <span lang={l}>{NAMES[l]}</span> }))}
    />
  );
}
