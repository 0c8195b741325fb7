import { AuditChanges } from './audit-entry.entity';

const SECRET = /password|secret|token|hash|key/i;

/**
 * The fields that changed between `before` and `after`, with both values; secret-looking fields
 * are recorded as changed without their values. Either side may be null (creation, deletion).
 */
export function auditDiff(before: Record<string, unknown> | null, after: Record<string, unknown> | null): AuditChanges {
  const changes: AuditChanges = {};
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  for (const key of keys) {
    const from = before?.[key];
    const to = after?.[key];
    if (JSON.stringify(from) === JSON.stringify(to)) continue;
    if (from instanceof Date || to instanceof Date) {
      if (String(from) === String(to)) continue;
    }
    changes[key] = SECRET.test(key) ? { from: from === undefined ? undefined : '[redacted]', to: to === undefined ? undefined : '[redacted]' } : { from, to };
  }
  return changes;
}
