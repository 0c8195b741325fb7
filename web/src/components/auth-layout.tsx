import { Card, Flex, theme } from 'antd';
import { ReactNode } from 'react';
import { Brand } from './brand';
import { LanguageSwitch } from './language-switch';
import { useSite } from '@/hooks/use-site';

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
        <Card style={{ width: '100%', maxWidth: 400, boxShadow: token.boxShadowTertiary }}>
          <Flex vertical gap={24}>
            <Flex justify="center">
              <Brand size={36} />
            </Flex>
            {children}
          </Flex>
        </Card>
      </Flex>
    </main>
  );
}
