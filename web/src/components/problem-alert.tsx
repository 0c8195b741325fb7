import { Alert } from 'antd';
import { useTranslation } from 'react-i18next';
import { ApiError } from '@/lib/api/client';

/** Shows an api failure with the api's own words (each failed rule of a field on its own line). */
export function ProblemAlert({ error }: { error: unknown }) {
  const { t } = useTranslation();
  if (!error) return null;
  const problem = error instanceof ApiError ? error.problem : undefined;
  const messages = problem?.errors?.flatMap((e) => e.messages) ?? [];
  return (
    <Alert
      type="error"
      showIcon
      role="alert"
      message={problem?.detail ?? problem?.title ?? t('common.failed')}
      description={messages.length > 0 ? <ul style={{ margin: 0, paddingInlineStart: 18 }}>{messages.map((m) => <li key={m}>{m}</li>)}</ul> : undefined}
    />
  );
}
