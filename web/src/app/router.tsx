import { lazy, Suspense } from 'react';
import { createBrowserRouter, Navigate, Outlet } from 'react-router-dom';
import { Spin } from 'antd';
import { RequireSession } from './session-gate';
import { SignInPage } from './routes/sign-in';
import { AREAS } from './areas';

// Every page but sign-in is its own chunk (the areas' pages too, see ./areas).
const Shell = lazy(() => import('./layout/shell'));
const Home = lazy(() => import('./routes/home'));
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
            { index: true, element: <Home /> },
            ...AREAS.flatMap((area) => area.routes),
            { path: '*', element: <NotFound /> },
          ],
        },
      ],
    },
  ],
  { basename: '/console' },
);
