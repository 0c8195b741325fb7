import { Alert, Card, Flex, Segmented, Select, Tabs, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router-dom';
import { Page } from '@/components/page';
import { useKeys } from '@/features/keys/api';
import { snippet, SnippetKind, SnippetLanguage } from '@/features/quickstart/snippets';
import { useSite } from '@/hooks/use-site';

export default function QuickstartPage() {
  const { t } = useTranslation();
  const { data: site } = useSite();
  const keys = useKeys(1, 100);
  const active = keys.data?.items.filter((k) => k.status === 'active') ?? [];
  const [keyId, setKeyId] = useState<string>();
  const [kind, setKind] = useState<SnippetKind>('chat');
  const chosen = active.find((k) => k.id === keyId) ?? active[0];
  const models = site?.models?.map((m) => m.model) ?? [];
  const input = {
    baseUrl: `${window.location.origin}/v1`,
    keyHint: chosen ? `${chosen.prefix}…` : 'sk-…',
    chatModel: models.find((m) => !/embed/i.test(m)) ?? 'gpt-4o-mini',
    embeddingModel: models.find((m) => /embed/i.test(m)) ?? 'text-embedding-3-small',
  };
  const languages: Array<{ key: SnippetLanguage; label: string }> = [
    { key: 'curl', label: 'curl' },
    { key: 'python', label: 'Python' },
    { key: 'node', label: 'Node.js' },
  ];

  return (
    <Page title={t('nav.quickstart')}>
      <Typography.Paragraph>{t('quickstart.intro', { baseUrl: input.baseUrl })}</Typography.Paragraph>
      {active.length === 0 && !keys.isPending && (
        <Alert type="info" showIcon message={t('quickstart.noKey')} action={<Link to="/keys">{t('keys.create')}</Link>} />
      )}
      <Card>
        <Flex gap={12} wrap align="center" style={{ marginBottom: 12 }}>
          {active.length > 0 && (
            <Select
              aria-label={t('quickstart.key')}
              value={chosen?.id}
              onChange={setKeyId}
              style={{ minWidth: 240 }}
              options={active.map((k) => ({ value: k.id, label: `${k.name} (${k.prefix}…)` }))}
            />
          )}
          <Segmented
            value={kind}
            onChange={(v) => setKind(v as SnippetKind)}
            options={[
              { value: 'chat', label: t('quickstart.chat') },
              { value: 'stream', label: t('quickstart.stream') },
              { value: 'embeddings', label: t('quickstart.embeddings') },
            ]}
          />
        </Flex>
        <Tabs
          items={languages.map((l) => {
            const code = snippet(l.key, kind, input);
            return {
              key: l.key,
              label: l.label,
              children: (
                <Typography.Paragraph copyable={{ text: code, tooltips: [t('common.copy'), t('common.copied')] }} style={{ margin: 0 }}>
                  <pre data-testid={`snippet-${l.key}`} style={{ margin: 0, overflowX: 'auto', whiteSpace: 'pre', fontSize: 13 }}>
                    {code}
                  </pre>
                </Typography.Paragraph>
              ),
            };
          })}
        />
        <Typography.Text type="secondary">{t('quickstart.keyNote')}</Typography.Text>
      </Card>
    </Page>
  );
}
