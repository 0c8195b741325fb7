import { Select } from 'antd';
import { GlobalOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import { Language, LANGUAGES, rememberLanguage } from '@/lib/i18n';

const NAMES: Record<Language, string> = { en: 'English', 'zh-CN': '简体中文' };

/** Switches the console's language (remembered on this browser). */
export function LanguageSwitch({ offered }: { offered?: readonly string[] }) {
  const { t, i18n } = useTranslation();
  const languages = LANGUAGES.filter((l) => !offered || offered.length === 0 || offered.includes(l));
  return (
    <Select
      aria-label={t('common.language')}
      data-testid="language-switch"
      value={i18n.language as Language}
      onChange={(value: Language) => rememberLanguage(value)}
      options={languages.map((l) => ({ value: l, label: NAMES[l] }))}
      suffixIcon={<GlobalOutlined aria-hidden />}
      variant="borderless"
      popupMatchSelectWidth={false}
    />
  );
}
