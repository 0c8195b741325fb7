import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { ConfigProvider, Spin, theme as antTheme } from 'antd';
import enUS from 'antd/locale/en_US';
import zhCN from 'antd/locale/zh_CN';
import { ReactNode, useEffect, useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import { useSite } from '@/hooks/use-site';
import { ApiError } from '@/lib/api/client';
import { readableOnWhite } from '@/lib/colour';
import { i18n, pickLanguage } from '@/lib/i18n';

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 2,
      refetchOnWindowFocus: false,
    },
  },
});

const DEFAULT_COLOR = '#1668dc';

/** The tenant's brand as antd's theme, its language as the default, and antd's own messages. */
function Branded({ children }: { children: ReactNode }) {
  const { data: site, isPending } = useSite();
  const { i18n: active } = useTranslation();
  useEffect(() => {
    if (site) void i18n.changeLanguage(pickLanguage(site.defaultLanguage, site.languages));
  }, [site]);
  useEffect(() => {
    if (site?.name) document.title = site.name;
  }, [site?.name]);
  const theme = useMemo(() => {
    const primary = readableOnWhite(site?.themeColor || DEFAULT_COLOR);
    return {
      algorithm: antTheme.defaultAlgorithm,
      // Secondary, tertiary and placeholder text a little darker than antd's defaults: AA contrast (4.5:1) on white and tinted backgrounds.
      token: {
        colorPrimary: primary,
        colorLink: primary,
        borderRadius: 8,
        colorTextSecondary: 'rgba(0, 0, 0, 0.68)',
        colorTextTertiary: 'rgba(0, 0, 0, 0.6)',
        colorTextDescription: 'rgba(0, 0, 0, 0.62)',
        colorTextPlaceholder: 'rgba(0, 0, 0, 0.56)',
        colorSuccess: '#237804',
        colorError: '#cf1322',
      },
      // The selected page in the navigation: white on the brand colour (AA contrast for any tenant colour).
      components: { Menu: { itemSelectedBg: primary, itemSelectedColor: '#fff' } },
    };
  }, [site?.themeColor]);
  if (isPending) return <Spin fullscreen />;
  return (
    <ConfigProvider theme={theme} locale={active.language === 'zh-CN' ? zhCN : enUS}>
      {children}
    </ConfigProvider>
  );
}

/**
 * Tables that scroll sideways (on a phone) can be scrolled from the keyboard: antd's scroll
 * container gets a tab stop when its rows hold nothing focusable of their own (axe's
 * scrollable-region-focusable). Every table of the console, whatever page draws it.
 */
function useKeyboardScrollableTables(): void {
  useEffect(() => {
    const mark = () => {
      for (const region of document.querySelectorAll<HTMLElement>('.ant-table-content:not([tabindex])')) {
        if (region.scrollWidth > region.clientWidth && !region.querySelector('a, button, input, select, textarea, [tabindex]')) region.tabIndex = 0;
      }
    };
    const observer = new MutationObserver(mark);
    observer.observe(document.body, { childList: true, subtree: true });
    window.addEventListener('resize', mark);
    return () => {
      observer.disconnect();
      window.removeEventListener('resize', mark);
    };
  }, []);
}

export function AppProvider({ children }: { children: ReactNode }) {
  useKeyboardScrollableTables();
  return (
    <QueryClientProvider client={queryClient}>
      <Branded>{children}</Branded>
    </QueryClientProvider>
  );
}
