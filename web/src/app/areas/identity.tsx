import { SafetyOutlined } from '@ant-design/icons';
import { lazy } from 'react';
import type { Area } from './types';

const IdentitySettings = lazy(() => import('../routes/identity-settings'));

/** Identity (issue 25): the owner's sign-up and two-factor settings. */
export const identity: Area = {
  nav: [{ path: '/identity-settings', label: 'identity.nav.settings', icon: <SafetyOutlined />, allowed: (me) => me.ability.can('read', 'IdentitySettings') }],
  routes: [{ path: '/identity-settings', element: <IdentitySettings /> }],
};
