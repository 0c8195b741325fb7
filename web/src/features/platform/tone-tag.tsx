import { Tag } from 'antd';
import type { ReactNode } from 'react';

export type Tone = 'green' | 'red' | 'gold' | 'blue' | 'orange' | 'default';

// antd's preset tag colours put mid-tone text on a pale ground (below WCAG AA for small text):
// the same hues, with text dark enough for a 4.5:1 contrast.
const TONES: Record<Exclude<Tone, 'default'>, { color: string; background: string; borderColor: string }> = {
  green: { color: '#135200', background: '#f6ffed', borderColor: '#b7eb8f' },
  red: { color: '#a8071a', background: '#fff1f0', borderColor: '#ffa39e' },
  gold: { color: '#613400', background: '#fffbe6', borderColor: '#ffe58f' },
  blue: { color: '#003eb3', background: '#e6f4ff', borderColor: '#91caff' },
  orange: { color: '#873800', background: '#fff7e6', borderColor: '#ffd591' },
};

/** A status tag whose text stays readable (statuses, health, outcomes). */
export function ToneTag({ tone, children, testId }: { tone: Tone; children: ReactNode; testId?: string }) {
  return (
    <Tag style={tone === 'default' ? undefined : TONES[tone]} data-testid={testId}>
      {children}
    </Tag>
  );
}
