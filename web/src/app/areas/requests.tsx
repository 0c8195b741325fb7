import { UnorderedListOutlined } from '@ant-design/icons';
import { lazy } from 'react';
import type { Area } from './types';

const Requests = lazy(() => import('../routes/requests'));

/**
 * Request logs: a customer's own requests, and for staff (owner, operator, finance, sales) those of
 * their usage scope, through the same api route; the api decides which records and fields.
 */
export const requests: Area = {
  nav: [{ path: '/requests', label: 'requests.nav.requests', icon: <UnorderedListOutlined />, allowed: (me) => me.ability.can('read', 'Usage') }],
  routes: [{ path: '/requests', element: <Requests /> }],
};
