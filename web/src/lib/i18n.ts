import i18n from 'i18next';
import { initReactI18next } from 'react-i18next';

/**
 * The message catalogs: one file per area of the console under locales/<language>/, each holding
 * its own top-level namespaces (web/src/locales/catalogs.spec.ts checks that no two files share
 * one and that both languages have the same keys). The catalogs only signed-in pages use (platform,
 * reseller, requests, units, risk, limits) are not part of the sign-in page's download: they load beside it and
 * the shell waits for them (catalogsReady), so the sign-in page stays within its budget
 * (web/scripts/bundle-size.mjs).
 */
function catalog(files: Record<string, Record<string, unknown>>): Record<string, unknown> {
  return Object.assign({}, ...Object.values(files));
}
type Catalog = Record<string, unknown>;
const en = catalog(import.meta.glob<Catalog>(['../locales/en/*.json', '!../locales/en/{platform,reseller,requests,units,risk,limits}.json'], { eager: true, import: 'default' }));
const zhCN = catalog(import.meta.glob<Catalog>(['../locales/zh-CN/*.json', '!../locales/zh-CN/{platform,reseller,requests,units,risk,limits}.json'], { eager: true, import: 'default' }));
const later = import.meta.glob<Catalog>('../locales/*/{platform,reseller,requests,units,risk,limits}.json', { import: 'default' });

export const LANGUAGES = ['en', 'zh-CN'] as const;
export type Language = (typeof LANGUAGES)[number];

const STORAGE_KEY = 'aigw.language';

/** Picks a supported language: the viewer's own choice, then the tenant's default, then the browser. */
export function pickLanguage(tenantDefault?: string | null, offered: readonly string[] = LANGUAGES): Language {
  const supported = (value: string | null | undefined): Language | undefined => {
    if (!value) return undefined;
    const exact = LANGUAGES.find((l) => l.toLowerCase() === value.toLowerCase());
    if (exact && offered.includes(exact)) return exact;
    const base = LANGUAGES.find((l) => l.split('-')[0] === value.split('-')[0].toLowerCase());
    return base && offered.includes(base) ? base : undefined;
  };
  return (
    supported(safeStorage()?.getItem(STORAGE_KEY)) ??
    supported(tenantDefault) ??
    navigator.languages.map(supported).find(Boolean) ??
    'en'
  );
}

export function rememberLanguage(language: Language): void {
  safeStorage()?.setItem(STORAGE_KEY, language);
  void i18n.changeLanguage(language);
}

function safeStorage(): Storage | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
}

void i18n.use(initReactI18next).init({
  resources: { en: { translation: en }, 'zh-CN': { translation: zhCN } },
  lng: pickLanguage(),
  fallbackLng: 'en',
  interpolation: { escapeValue: false },
  returnNull: false,
});

/** Resolves once every catalog is loaded (the staff areas' come after the sign-in page's). */
export const catalogsReady: Promise<void> = Promise.all(
  Object.entries(later).map(async ([path, load]) => {
    const language = path.split('/').at(-2)!;
    i18n.addResourceBundle(language, 'translation', await load(), true, false);
  }),
).then(() => undefined);

i18n.on('languageChanged', (language) => {
  document.documentElement.lang = language;
});
document.documentElement.lang = i18n.language;

export { i18n };
