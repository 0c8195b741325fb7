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

/**
 * An api failure with each field's rules on one line, the field named by `fieldName` (a price
 * form's buckets); a failure without field errors as {@link ProblemAlert} shows it.
 */
export function FieldProblems({ error, fieldName }: { error: unknown; fieldName: (field: string) => string }) {
  if (!(error instanceof ApiError) || !error.problem.errors?.length) return <ProblemAlert error={error} />;
  return (
    <Alert
      type="error"
      showIcon
      role="alert"
      message={error.problem.detail ?? error.problem.title}
      description={
        <ul style={{ margin: 0, paddingInlineStart: 18 }}>
          {error.problem.errors.map((e, i) => (
            <li key={`${e.field}-${i}`}>{`${fieldName(e.field)}: ${e.messages.join('; ')}`}</li>
          ))}
        </ul>
      }
    />
  );
}
