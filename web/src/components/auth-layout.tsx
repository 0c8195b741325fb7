import { Flex, theme } from 'antd';
import { ReactNode } from 'react';
import { Brand } from './brand';
import { LanguageSwitch } from './language-switch';
import { useSite } from '@/hooks/use-site';

/** A page title of the pages before sign-in (plain HTML: those pages' JavaScript has a budget). */
export function AuthTitle({ children }: { children: ReactNode }) {
  const { token } = theme.useToken();
  return <h1 style={{ fontSize: 20, fontWeight: 600, margin: 0, textAlign: 'center', color: token.colorTextHeading }}>{children}</h1>;
}

export function AuthText({ children }: { children: ReactNode }) {
  const { token } = theme.useToken();
  return <p style={{ margin: '0 0 16px', color: token.colorTextSecondary }}>{children}</p>;
}

/** The centred card of the pages before sign-in, on the tenant's colour. */
export function AuthLayout({ children }: { children: ReactNode }) {
  const { token } = theme.useToken();
  const { data: site } = useSite();
  return (
    <main
      style={{
        minHeight: '100vh',
        background: `linear-gradient(160deg, ${token.colorPrimaryBg} 0%, ${token.colorBgLayout} 60%)`,
        display: 'flex',
        flexDirection: 'column',
      }}
    >
      <Flex justify="flex-end" style={{ padding: 12 }}>
        <LanguageSwitch offered={site?.languages} />
      </Flex>
      <Flex justify="center" align="flex-start" style={{ flex: 1, padding: '4vh 16px 48px' }}>
        <div
          style={{
            width: '100%',
            maxWidth: 400,
            padding: 'clamp(20px, 6vw, 32px)',
            boxSizing: 'border-box',
            background: token.colorBgContainer,
            borderRadius: token.borderRadiusLG,
            boxShadow: token.boxShadowTertiary,
            border: `1px solid ${token.colorBorderSecondary}`,
          }}
        >
          <Flex vertical gap={24}>
            <Flex justify="center">
              <Brand size={36} wrap />
            </Flex>
            {children}
          </Flex>
        </div>
      </Flex>
    </main>
  );
}
