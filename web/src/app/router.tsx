import { lazy, Suspense } from 'react';
import { createBrowserRouter, Navigate, Outlet } from 'react-router-dom';
import { Spin } from 'antd';
import { RequireSession } from './session-gate';
import { SignInPage } from './routes/sign-in';

// Every page but sign-in is its own chunk: sign-in downloads none of them, and the chart library
// comes only with the pages that draw charts.
const Shell = lazy(() => import('./layout/shell'));
const Dashboard = lazy(() => import('./routes/dashboard'));
const Keys = lazy(() => import('./routes/keys'));
const Usage = lazy(() => import('./routes/usage'));
const Billing = lazy(() => import('./routes/billing'));
const Topup = lazy(() => import('./routes/topup'));
const Models = lazy(() => import('./routes/models'));
const Quickstart = lazy(() => import('./routes/quickstart'));
const Account = lazy(() => import('./routes/account'));
const AcceptInvitation = lazy(() => import('./routes/accept-invitation'));
const ResetPassword = lazy(() => import('./routes/reset-password'));
const NotFound = lazy(() => import('./routes/not-found'));

function Lazy() {
  return (
    <Suspense fallback={<Spin fullscreen />}>
      <Outlet />
    </Suspense>
  );
}

export const router = createBrowserRouter(
  [
    {
      element: <Lazy />,
      children: [
        { path: '/sign-in', element: <SignInPage /> },
        { path: '/accept-invitation', element: <AcceptInvitation /> },
        { path: '/reset-password', element: <ResetPassword /> },
        {
          element: (
            <RequireSession>
              <Shell />
            </RequireSession>
          ),
          children: [
            { index: true, element: <Navigate to="/dashboard" replace /> },
            { path: '/dashboard', element: <Dashboard /> },
            { path: '/keys', element: <Keys /> },
            { path: '/usage', element: <Usage /> },
            { path: '/billing', element: <Billing /> },
            { path: '/topups/:id', element: <Topup /> },
            { path: '/models', element: <Models /> },
            { path: '/quickstart', element: <Quickstart /> },
            { path: '/account', element: <Account /> },
            { path: '*', element: <NotFound /> },
          ],
        },
      ],
    },
  ],
  { basename: '/console' },
);
