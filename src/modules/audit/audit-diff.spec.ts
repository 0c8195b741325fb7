import { auditDiff } from './audit-diff';

describe('auditDiff', () => {
  it('records changed fields with both values', () => {
    expect(auditDiff({ name: 'A', status: 'active' }, { name: 'B', status: 'active' })).toEqual({ name: { from: 'A', to: 'B' } });
  });

  it('handles creation and deletion', () => {
    expect(auditDiff(null, { name: 'A' })).toEqual({ name: { from: undefined, to: 'A' } });
    expect(auditDiff({ name: 'A' }, null)).toEqual({ name: { from: 'A', to: undefined } });
  });

  it('never records secret values', () => {
    const diff = auditDiff({ passwordHash: 'old-hash' }, { passwordHash: 'new-hash', refreshToken: 'rt' });
    expect(JSON.stringify(diff)).not.toMatch(/old-hash|new-hash|"rt"/);
    expect(diff.passwordHash).toEqual({ from: '[redacted]', to: '[redacted]' });
  });

  it('compares nested values structurally', () => {
    expect(auditDiff({ branding: { themeColor: '#fff' } }, { branding: { themeColor: '#fff' } })).toEqual({});
  });
});
