import { Spin } from 'antd';
import { Navigate } from 'react-router-dom';
import { useMe } from '@/features/auth/api';
import { allowedNav } from '../areas';

/** The console's start: the first page the signed-in person may use (a customer's dashboard). */
export default function Home() {
  const { data: me } = useMe();
  if (!me) return <Spin fullscreen />;
  return <Navigate to={allowedNav(me)[0]?.path ?? '/account'} replace />;
}
