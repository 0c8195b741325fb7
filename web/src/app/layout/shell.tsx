import {
  AppstoreOutlined,
  BookOutlined,
  DashboardOutlined,
  KeyOutlined,
  LineChartOutlined,
  LogoutOutlined,
  MenuOutlined,
  UserOutlined,
  WalletOutlined,
  TagsOutlined,
} from '@ant-design/icons';
import { App, Avatar, Button, Drawer, Dropdown, Flex, Grid, Layout, Menu, Spin, theme, Typography } from 'antd';
import { Suspense, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Outlet, useLocation, useNavigate } from 'react-router-dom';
import { Brand } from '@/components/brand';
import { LanguageSwitch } from '@/components/language-switch';
import { useUpdateProfile } from '@/features/account/api';
import { useMe, useSignOut } from '@/features/auth/api';
import { useSite } from '@/hooks/use-site';
import { resetRestore } from '../session-gate';

type Ability = NonNullable<ReturnType<typeof useMe>['data']>['ability'];

/** The pages of the customer portal, each shown only when the person may use it. */
const NAV: Array<{ path: string; label: string; icon: JSX.Element; allowed: (can: Ability) => boolean }> = [
  { path: '/dashboard', label: 'nav.dashboard', icon: <DashboardOutlined />, allowed: (a) => a.can('read', 'Balance') },
  { path: '/keys', label: 'nav.keys', icon: <KeyOutlined />, allowed: (a) => a.can('read', 'ApiKey') },
  { path: '/usage', label: 'nav.usage', icon: <LineChartOutlined />, allowed: (a) => a.can('read', 'Usage') },
  { path: '/billing', label: 'nav.billing', icon: <WalletOutlined />, allowed: (a) => a.can('read', 'Balance') },
  { path: '/models', label: 'nav.models', icon: <TagsOutlined />, allowed: () => true },
  { path: '/quickstart', label: 'nav.quickstart', icon: <BookOutlined />, allowed: (a) => a.can('create', 'ApiKey') },
  { path: '/account', label: 'nav.account', icon: <UserOutlined />, allowed: () => true },
];

export default function Shell() {
  const { t } = useTranslation();
  const { token } = theme.useToken();
  const screens = Grid.useBreakpoint();
  const phone = !screens.md;
  const [drawer, setDrawer] = useState(false);
  const { data: me } = useMe();
  const { data: site } = useSite();
  const signOut = useSignOut();
  const profile = useUpdateProfile();
  const location = useLocation();
  const navigate = useNavigate();

  if (!me) return <Spin fullscreen />;

  const items = NAV.filter((item) => item.allowed(me.ability)).map((item) => ({ key: item.path, icon: item.icon, label: t(item.label) }));
  const selected = items.find((item) => location.pathname.startsWith(item.key))?.key;
  const menu = (
    <Menu
      mode="inline"
      selectedKeys={selected ? [selected] : []}
      items={items}
      onClick={({ key }) => {
        setDrawer(false);
        navigate(key);
      }}
      style={{ borderInlineEnd: 'none' }}
    />
  );
  const name = me.user.displayName || me.user.email;

  return (
    <App>
    <Layout style={{ minHeight: '100vh' }}>
      {!phone && (
        <Layout.Sider width={224} theme="light" style={{ borderInlineEnd: `1px solid ${token.colorBorderSecondary}` }}>
          <div style={{ padding: '18px 20px' }}>
            <Brand />
          </div>
          <nav aria-label={t('nav.label')}>{menu}</nav>
        </Layout.Sider>
      )}
      {phone && (
        <Drawer open={drawer} onClose={() => setDrawer(false)} placement="left" width={260} title={<Brand />} styles={{ body: { padding: 0 } }}>
          <nav aria-label={t('nav.label')}>{menu}</nav>
        </Drawer>
      )}
      <Layout>
        <Layout.Header
          style={{
            background: token.colorBgContainer,
            borderBottom: `1px solid ${token.colorBorderSecondary}`,
            padding: phone ? '0 8px' : '0 24px',
            display: 'flex',
            alignItems: 'center',
            justifyContent: 'space-between',
            gap: 8,
          }}
        >
          <Flex align="center" gap={8} style={{ minWidth: 0 }}>
            {phone && <Button type="text" icon={<MenuOutlined />} aria-label={t('nav.open')} onClick={() => setDrawer(true)} data-testid="nav-open" />}
            {phone && <Brand size={24} />}
          </Flex>
          <Flex align="center" gap={4}>
            <LanguageSwitch offered={site?.languages} onChange={(language) => profile.mutate({ preferredLanguage: language })} />
            <Dropdown
              trigger={['click']}
              menu={{
                items: [
                  { key: 'account', icon: <AppstoreOutlined />, label: t('nav.account') },
                  { type: 'divider' },
                  { key: 'sign-out', icon: <LogoutOutlined />, label: t('auth.signOut'), danger: true },
                ],
                onClick: async ({ key }) => {
                  if (key === 'account') navigate('/account');
                  if (key === 'sign-out') {
                    await signOut.mutateAsync().catch(() => undefined);
                    resetRestore();
                    navigate('/sign-in', { replace: true });
                  }
                },
              }}
            >
              <Button type="text" aria-label={t('nav.userMenu')} data-testid="user-menu" style={{ height: 40 }}>
                <Flex align="center" gap={8}>
                  <Avatar size="small" style={{ background: token.colorPrimary }}>
                    {name.slice(0, 1).toUpperCase()}
                  </Avatar>
                  {!phone && <Typography.Text style={{ maxWidth: 200 }} ellipsis>{name}</Typography.Text>}
                </Flex>
              </Button>
            </Dropdown>
          </Flex>
        </Layout.Header>
        <Layout.Content style={{ padding: phone ? 12 : 24 }}>
          <main style={{ maxWidth: 1200, margin: '0 auto' }}>
            <Suspense fallback={<Spin />}>
              <Outlet />
            </Suspense>
          </main>
        </Layout.Content>
      </Layout>
    </Layout>
    </App>
  );
}
