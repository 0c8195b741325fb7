import { Spin } from 'antd';
import { ReactNode, useEffect, useState } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router-dom';
import { useQueryClient } from '@tanstack/react-query';
import { session } from '@/lib/api/session';

type State = 'checking' | 'in' | 'out';

let restored: Promise<boolean> | undefined;

/** Restores the session from the cookie once per page load (the access token is memory only). */
function restoreOnce(): Promise<boolean> {
  restored ??= session.token ? Promise.resolve(true) : session.refresh();
  return restored;
}

/** Pages behind sign-in: a lost session (revoked, expired) lands on the sign-in page. */
export function RequireSession({ children }: { children: ReactNode }) {
  const [state, setState] = useState<State>(session.token ? 'in' : 'checking');
  const location = useLocation();
  const navigate = useNavigate();
  const client = useQueryClient();

  useEffect(() => {
    let live = true;
    if (state === 'checking') void restoreOnce().then((ok) => live && setState(ok || session.token ? 'in' : 'out'));
    const unsubscribe = session.subscribe((event) => {
      if (event !== 'lost') return;
      client.clear();
      navigate(`/sign-in?expired=1&next=${encodeURIComponent(location.pathname + location.search)}`, { replace: true });
    });
    return () => {
      live = false;
      unsubscribe();
    };
  }, [state, client, navigate, location.pathname, location.search]);

  if (state === 'checking') return <Spin fullscreen />;
  if (state === 'out') return <Navigate to={`/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
  return <>{children}</>;
}

/** Marks the cookie restore as done after an explicit sign-in or sign-out. */
export function resetRestore(): void {
  restored = undefined;
}
