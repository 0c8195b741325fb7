import { Flex, theme } from 'antd';
import { useSite } from '@/hooks/use-site';

/** The tenant's logo and name. */
export function Brand({ size = 28, light = false, wrap = false }: { size?: number; light?: boolean; wrap?: boolean }) {
  const { data: site } = useSite();
  const { token } = theme.useToken();
  const name = site?.name ?? '';
  return (
    <Flex align="center" gap={10} style={{ minWidth: 0 }}>
      {site?.logoUrl ? (
        <img src={site.logoUrl} alt="" height={size} style={{ maxWidth: size * 4, objectFit: 'contain' }} />
      ) : (
        <span
          aria-hidden
          style={{
            width: size,
            height: size,
            borderRadius: 8,
            background: site?.themeColor || '#1677ff',
            color: '#fff',
            display: 'inline-flex',
            alignItems: 'center',
            justifyContent: 'center',
            fontWeight: 700,
            fontSize: size * 0.5,
            flex: 'none',
          }}
        >
          {name.slice(0, 1).toUpperCase()}
        </span>
      )}
      <span
        data-testid="brand-name"
        style={{ fontSize: size * 0.6, fontWeight: 600, color: light ? '#fff' : token.colorText, ...(wrap ? { overflowWrap: 'anywhere', textAlign: 'center' } : { whiteSpace: 'nowrap', overflow: 'hidden', textOverflow: 'ellipsis' }) }}
      >
        {name}
      </span>
    </Flex>
  );
}
