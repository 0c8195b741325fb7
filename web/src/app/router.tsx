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
const SignUp = lazy(() => import('./routes/sign-up'));
const VerifyEmail = lazy(() => import('./routes/verify-email'));

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
        { path: '/sign-up', element: <SignUp /> },
        { path: '/verify-email', element: <VerifyEmail /> },
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
