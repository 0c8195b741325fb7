import {
  AppstoreOutlined,
  LogoutOutlined,
  MenuOutlined,
} from '@ant-design/icons';
import { App, Avatar, Button, Drawer, Dropdown, Flex, Grid, Layout, Menu, MenuProps, Spin, theme, Typography } from 'antd';
import { Suspense, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Outlet, useLocation, useNavigate } from 'react-router-dom';
import { Brand } from '@/components/brand';
import { LanguageSwitch } from '@/components/language-switch';
import { useUpdateProfile } from '@/features/account/api';
import { useMe, useSignOut } from '@/features/auth/api';
import { useSite } from '@/hooks/use-site';
import { catalogsReady } from '@/lib/i18n';
import { resetRestore } from '../session-gate';
import { allowedNav } from '../areas';
import type { NavEntry } from '../areas/types';

export default function Shell() {
  const { t } = useTranslation();
  const { token } = theme.useToken();
  const screens = Grid.useBreakpoint();
  const phone = !screens.md;
  const [drawer, setDrawer] = useState(false);
  const { data: me } = useMe();
  const catalogs = useCatalogsReady();
  const { data: site } = useSite();
  const signOut = useSignOut();
  const profile = useUpdateProfile();
  const location = useLocation();
  const navigate = useNavigate();

  if (!me || !catalogs) return <Spin fullscreen />;

  const entries = allowedNav(me);
  const selected = entries.find((entry) => location.pathname.startsWith(entry.path))?.path;
  const groups = [...new Set(entries.map((entry) => entry.group))];
  const toItem = (entry: NavEntry) => ({ key: entry.path, icon: entry.icon, label: t(entry.label) });
  const items = groups.flatMap((group): MenuProps['items'] & object => {
    const children = entries.filter((entry) => entry.group === group).map(toItem);
    return group ? [{ type: 'group' as const, key: group, label: t(group), children }] : children;
  });
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

/** True once the staff areas' message catalogs are loaded (they are not part of the sign-in download). */
function useCatalogsReady(): boolean {
  const [ready, setReady] = useState(false);
  useEffect(() => {
    let live = true;
    void catalogsReady.then(() => live && setReady(true));
    return () => {
      live = false;
    };
  }, []);
  return ready;
}
