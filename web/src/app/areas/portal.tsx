import { BookOutlined, DashboardOutlined, KeyOutlined, LineChartOutlined, TagsOutlined, UserOutlined, WalletOutlined } from '@ant-design/icons';
import { lazy } from 'react';
import { isCustomer, salesOnly } from './roles';
import type { Area } from './types';

// Every page is its own chunk: sign-in downloads none of them, and the chart library comes only
// with the pages that draw charts.
const Dashboard = lazy(() => import('../routes/dashboard'));
const Keys = lazy(() => import('../routes/keys'));
const Usage = lazy(() => import('../routes/usage'));
const Billing = lazy(() => import('../routes/billing'));
const Topup = lazy(() => import('../routes/topup'));
const Models = lazy(() => import('../routes/models'));
const Quickstart = lazy(() => import('../routes/quickstart'));
const Account = lazy(() => import('../routes/account'));

/**
 * The customer portal: one's own balance, keys, usage, billing and account. Staff who are not also
 * customers get only what they can use of it: usage of their scope (not a salesperson, whose
 * customers' usage is in "My customers"), the models and their account.
 */
export const portal: Area = {
  nav: [
    { path: '/dashboard', label: 'nav.dashboard', icon: <DashboardOutlined />, allowed: (me) => isCustomer(me) && me.ability.can('read', 'Balance') },
    { path: '/keys', label: 'nav.keys', icon: <KeyOutlined />, allowed: (me) => isCustomer(me) && me.ability.can('read', 'ApiKey') },
    { path: '/usage', label: 'nav.usage', icon: <LineChartOutlined />, allowed: (me) => (isCustomer(me) || !salesOnly(me)) && me.ability.can('read', 'Usage') },
    { path: '/billing', label: 'nav.billing', icon: <WalletOutlined />, allowed: (me) => isCustomer(me) && me.ability.can('read', 'Balance') },
    { path: '/models', label: 'nav.models', icon: <TagsOutlined />, allowed: () => true },
    { path: '/quickstart', label: 'nav.quickstart', icon: <BookOutlined />, allowed: (me) => isCustomer(me) && me.ability.can('create', 'ApiKey') },
    { path: '/account', label: 'nav.account', icon: <UserOutlined />, allowed: () => true },
  ],
  routes: [
    { path: '/dashboard', element: <Dashboard /> },
    { path: '/keys', element: <Keys /> },
    { path: '/usage', element: <Usage /> },
    { path: '/billing', element: <Billing /> },
    { path: '/topups/:id', element: <Topup /> },
    { path: '/models', element: <Models /> },
    { path: '/quickstart', element: <Quickstart /> },
    { path: '/account', element: <Account /> },
  ],
};
