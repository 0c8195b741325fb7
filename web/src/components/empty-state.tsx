import { Empty } from 'antd';

/** A table's "nothing here" with AA-contrast text (antd's placeholder cell uses the disabled colour). */
export function EmptyState({ text }: { text: string }) {
  return <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={<span style={{ color: 'rgba(0, 0, 0, 0.65)' }}>{text}</span>} />;
}
