import { ApiOutlined, AuditOutlined, BankOutlined, ClusterOutlined, FileSearchOutlined, FileTextOutlined, FundOutlined, TagsOutlined } from '@ant-design/icons';
import { lazy } from 'react';
import { access } from '@/features/platform/access';
import type { Area } from './types';

const Channels = lazy(() => import('../routes/platform/channels'));
const Resellers = lazy(() => import('../routes/platform/resellers'));
const PriceBook = lazy(() => import('../routes/platform/price-book'));
const Withdrawals = lazy(() => import('../routes/platform/withdrawals'));
const Rollup = lazy(() => import('../routes/platform/rollup'));
const Statements = lazy(() => import('../routes/platform/statements'));
const Audit = lazy(() => import('../routes/platform/audit'));
// The request list of the requests area, over every tenant (platform monitoring).
const Requests = lazy(() => import('../routes/requests'));

const GROUP = 'platform.nav.group';

/**
 * The platform's operators, at the platform's domain: channels (tech), resellers, the wholesale
 * price book, withdrawals, the rollup and statements (owner, operator, finance), request logs across
 * every tenant (owner, tech), the audit log.
 * Each entry is offered only to the roles whose CASL rules allow it (features/platform/access).
 */
export const platform: Area = {
  nav: [
    { path: '/platform/channels', label: 'platform.nav.channels', icon: <ApiOutlined />, group: GROUP, allowed: access.channels },
    { path: '/platform/resellers', label: 'platform.nav.resellers', icon: <ClusterOutlined />, group: GROUP, allowed: access.resellers },
    { path: '/platform/price-book', label: 'platform.nav.priceBook', icon: <TagsOutlined />, group: GROUP, allowed: access.priceBook },
    { path: '/platform/rollup', label: 'platform.nav.rollup', icon: <FundOutlined />, group: GROUP, allowed: access.rollup },
    { path: '/platform/statements', label: 'platform.nav.statements', icon: <FileTextOutlined />, group: GROUP, allowed: access.statements },
    { path: '/platform/withdrawals', label: 'platform.nav.withdrawals', icon: <BankOutlined />, group: GROUP, allowed: access.withdrawals },
    { path: '/platform/requests', label: 'platform.nav.requests', icon: <FileSearchOutlined />, group: GROUP, allowed: access.requests },
    { path: '/platform/audit', label: 'platform.nav.audit', icon: <AuditOutlined />, group: GROUP, allowed: access.audit },
  ],
  routes: [
    { path: '/platform/channels', element: <Channels /> },
    { path: '/platform/resellers', element: <Resellers /> },
    { path: '/platform/price-book', element: <PriceBook /> },
    { path: '/platform/rollup', element: <Rollup /> },
    { path: '/platform/statements', element: <Statements /> },
    { path: '/platform/withdrawals', element: <Withdrawals /> },
    { path: '/platform/requests', element: <Requests scope="platform" /> },
    { path: '/platform/audit', element: <Audit /> },
  ],
};
