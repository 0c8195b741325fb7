import { Form, FormInstance, Modal } from 'antd';
import { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { ProblemAlert } from '@/components/problem-alert';

/** What a form modal needs of its mutation: its state, to show the failure and clear it on close. */
interface MutationState {
  isPending: boolean;
  error: unknown;
  reset(): void;
}

/**
 * A dialog holding one form that submits one mutation: OK submits the form, Cancel (and the
 * caller's `done` after a success) clears the mutation's failure and closes; the failure is shown
 * above the fields in the API's own words (or by `errorView`).
 */
export function FormModal<V>({
  open,
  title,
  okText,
  form,
  mutation,
  onClose,
  onFinish,
  initialValues,
  testId,
  errorView,
  children,
}: {
  open: boolean;
  title: ReactNode;
  okText?: ReactNode;
  form: FormInstance;
  mutation: MutationState;
  onClose: () => void;
  /** Submits; call `done` after a success to close the dialog. */
  onFinish: (values: V, done: () => void) => Promise<void>;
  initialValues?: Partial<V>;
  testId?: string;
  errorView?: (error: unknown) => ReactNode;
  children: ReactNode;
}) {
  const { t } = useTranslation();
  const close = () => {
    mutation.reset();
    onClose();
  };
  return (
    <Modal
      open={open}
      title={title}
      okText={okText ?? t('common.save')}
      cancelText={t('common.cancel')}
      onCancel={close}
      onOk={() => form.submit()}
      confirmLoading={mutation.isPending}
      destroyOnClose
    >
      <Form form={form} layout="vertical" preserve={false} initialValues={initialValues} data-testid={testId} onFinish={(v: V) => onFinish(v, close)}>
        {Boolean(mutation.error) && (errorView ? errorView(mutation.error) : <ProblemAlert error={mutation.error} />)}
        {children}
      </Form>
    </Modal>
  );
}
