import { AlertOutlined, ApartmentOutlined, ApiOutlined, AuditOutlined, BankOutlined, SettingOutlined, FileTextOutlined, ShoppingCartOutlined, TagOutlined, TeamOutlined, UserSwitchOutlined, WalletOutlined } from '@ant-design/icons';
import { lazy } from 'react';
import { salesOnly } from './roles';
import type { Area, Me } from './types';

const Customers = lazy(() => import('../routes/reseller/customers'));
const Members = lazy(() => import('../routes/reseller/members'));
const Prices = lazy(() => import('../routes/reseller/prices'));
const SubResellers = lazy(() => import('../routes/reseller/sub-resellers'));
const Statements = lazy(() => import('../routes/reseller/statements'));
const Withdrawals = lazy(() => import('../routes/reseller/withdrawals'));
const Topups = lazy(() => import('../routes/reseller/topups'));
const Credits = lazy(() => import('../routes/reseller/credits'));
const Webhooks = lazy(() => import('../routes/reseller/webhooks'));
const Settings = lazy(() => import('../routes/reseller/settings'));
const Audit = lazy(() => import('../routes/reseller/audit'));
const Risk = lazy(() => import('../routes/reseller/risk'));

/** The pages of a reseller's staff (not its customers), at the reseller's domain (the platform's operators have their own area). */
const staff = (me: Me) => me.tenant.type === 'reseller' && me.roles.some((role) => role !== 'user');
export { salesOnly };

const BUSINESS = 'reseller.nav.groupBusiness';
const MONEY = 'reseller.nav.groupMoney';
const SETTINGS = 'reseller.nav.groupSettings';

/** The reseller's staff console: entries shown by the same CASL rules the API enforces. */
export const reseller: Area = {
  nav: [
    { path: '/reseller/customers', label: 'reseller.nav.customers', icon: <TeamOutlined />, group: BUSINESS, allowed: (me) => staff(me) && !salesOnly(me) && me.ability.can('read', 'Customer') },
    { path: '/reseller/customers', label: 'reseller.nav.myCustomers', icon: <TeamOutlined />, group: BUSINESS, allowed: (me) => staff(me) && salesOnly(me) && me.ability.can('read', 'Customer') },
    { path: '/reseller/members', label: 'reseller.nav.members', icon: <UserSwitchOutlined />, group: BUSINESS, allowed: (me) => staff(me) && me.ability.can('read', 'Member') },
    { path: '/reseller/prices', label: 'reseller.nav.prices', icon: <TagOutlined />, group: BUSINESS, allowed: (me) => staff(me) && me.ability.can('read', 'PriceCost') },
    { path: '/reseller/sub-resellers', label: 'reseller.nav.subResellers', icon: <ApartmentOutlined />, group: BUSINESS, allowed: (me) => staff(me) && me.ability.can('read', 'SubReseller') },
    { path: '/reseller/statements', label: 'reseller.nav.statements', icon: <FileTextOutlined />, group: MONEY, allowed: (me) => staff(me) && me.ability.can('read', 'Statement') },
    { path: '/reseller/withdrawals', label: 'reseller.nav.withdrawals', icon: <BankOutlined />, group: MONEY, allowed: (me) => staff(me) && me.ability.can('read', 'Withdrawal') },
    { path: '/reseller/topups', label: 'reseller.nav.topups', icon: <ShoppingCartOutlined />, group: MONEY, allowed: (me) => staff(me) && !salesOnly(me) && me.ability.can('read', 'Topup') },
    { path: '/reseller/credits', label: 'reseller.nav.credits', icon: <WalletOutlined />, group: MONEY, allowed: (me) => staff(me) && !salesOnly(me) && me.ability.can('read', 'Balance') },
    { path: '/reseller/webhooks', label: 'reseller.nav.webhooks', icon: <ApiOutlined />, group: SETTINGS, allowed: (me) => staff(me) && me.ability.can('read', 'WebhookEndpoint') },
    {
      path: '/reseller/settings',
      label: 'reseller.nav.settings',
      icon: <SettingOutlined />,
      group: SETTINGS,
      allowed: (me) => staff(me) && ['update:Tenant', 'read:LowBalanceSettings', 'read:PaymentSettings', 'read:RedemptionCode'].some((rule) => me.ability.can(rule.split(':')[0], rule.split(':')[1])),
    },
    { path: '/reseller/risk', label: 'risk.nav.title', icon: <AlertOutlined />, group: SETTINGS, allowed: (me) => staff(me) && me.ability.can('read', 'Risk') },
    { path: '/reseller/audit', label: 'reseller.nav.audit', icon: <AuditOutlined />, group: SETTINGS, allowed: (me) => staff(me) && me.ability.can('read', 'AuditLog') },
  ],
  routes: [
    { path: '/reseller/customers', element: <Customers /> },
    { path: '/reseller/members', element: <Members /> },
    { path: '/reseller/prices', element: <Prices /> },
    { path: '/reseller/sub-resellers', element: <SubResellers /> },
    { path: '/reseller/statements', element: <Statements /> },
    { path: '/reseller/withdrawals', element: <Withdrawals /> },
    { path: '/reseller/topups', element: <Topups /> },
    { path: '/reseller/credits', element: <Credits /> },
    { path: '/reseller/webhooks', element: <Webhooks /> },
    { path: '/reseller/settings', element: <Settings /> },
    { path: '/reseller/audit', element: <Audit /> },
    { path: '/reseller/risk', element: <Risk /> },
  ],
};
