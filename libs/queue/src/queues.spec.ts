import { ALL_QUEUES, queuePrefix, QueueName } from './queues';

describe('queue prefixes', () => {
  it('keep `bull` (and `{metering}`) on one server, and give every queue its own hash tag on a Cluster', () => {
    expect(queuePrefix(QueueName.Mail, false)).toBe('bull');
    expect(queuePrefix(QueueName.Metering, false)).toBe('{metering}');
    for (const name of ALL_QUEUES) expect(queuePrefix(name, true)).toBe(`{${name}}`);
    expect(new Set(ALL_QUEUES.map((name) => queuePrefix(name, true))).size).toBe(ALL_QUEUES.length);
  });
});
