/**
 * Queue names and job payloads: the contract between the processes that add jobs (api, cli) and
 * the worker that processes them. Payloads carry the tenant id; processors open the tenant
 * transaction themselves.
 */
export const QueueName = {
  /** Outgoing e-mail (invitations, password resets), sent through SMTP with retries. */
  Mail: 'mail',
  /** Housekeeping on schedules (expired sessions and links). */
  Maintenance: 'maintenance',
  /** Channel health checks (scheduled) and upstream keys refused by their provider (from the api). */
  Channels: 'channels',
  /** Scheduled money housekeeping: usage partitions, retention, rollups, reconciliation, expired holds. */
  Ledger: 'ledger',
  /** Settlement: closes periods and writes statements (scheduled). */
  Settlement: 'settlement',
  /** Outgoing webhook deliveries: one job per delivery (job id = delivery id), retried with backoff. */
  Webhooks: 'webhooks',
  /**
   * Metering: one drain job per usage-stream shard, kept by a job scheduler; each job reads its
   * shard's tenant streams with the consumer group and writes the batches (DESIGN.md "Metering").
   */
  Metering: 'metering',
} as const;
export type QueueName = (typeof QueueName)[keyof typeof QueueName];

export const ALL_QUEUES: readonly QueueName[] = Object.values(QueueName);

/**
 * BullMQ key prefix per queue. A prefix in braces is a hash tag: every key the queue's scripts
 * touch then hashes to one slot, so the queue runs unchanged on Redis Cluster (DESIGN.md "Beyond
 * one machine"). Queues not listed keep BullMQ's default prefix (`bull`), so that jobs already
 * waiting in a running installation are not stranded by a new prefix.
 */
export const QUEUE_PREFIX: Partial<Record<QueueName, string>> = {
  [QueueName.Metering]: '{metering}',
};

/**
 * The prefix of a queue's keys. On Redis Cluster every queue needs a hash tag (BullMQ's scripts touch
 * many keys of one queue), so each gets its own, `{<name>}`: the queues then spread over the
 * cluster's slots. Switching a running single-server installation to a Cluster therefore starts
 * with empty queues (the jobs are not carried over; DESIGN.md "Beyond one machine").
 */
export function queuePrefix(name: QueueName, cluster: boolean): string {
  return cluster ? `{${name}}` : (QUEUE_PREFIX[name] ?? 'bull');
}

export interface MailJob {
  tenantId: string;
  to: string;
  subject: string;
  text: string;
  html?: string;
  /** What the mail is about, for logs and metrics; never the secret it may carry. */
  kind: string;
}

export const MaintenanceJob = {
  PurgeExpiredCredentials: 'purge-expired-credentials',
  PurgeWebhookHistory: 'purge-webhook-history',
  NotifyExpiringKeys: 'notify-expiring-keys',
  ExpireTopups: 'expire-topups',
  PurgeRequestContents: 'purge-request-contents',
} as const;

export const ChannelsJob = {
  HealthCheck: 'channel-health-check',
  KeyRejected: 'channel-key-rejected',
  QuotaExhausted: 'channel-quota-exhausted',
} as const;

/** An upstream said its account is out of quota: the worker marks the channel quota-exhausted and tells the platform (once). */
export interface ChannelQuotaExhaustedJob {
  channelId: string;
  upstreamStatus: number | null;
  reason: string;
}

/** An upstream refused one of a channel's keys (401/403): the worker disables it and says why. */
export interface ChannelKeyRejectedJob {
  channelId: string;
  keyId: string;
  upstreamStatus: number;
}

/** Defaults for every job: bounded retries with backoff, and bounded history in Redis. */
export const DEFAULT_JOB_OPTIONS = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: { age: 24 * 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 5000 },
} as const;

export const LedgerJob = {
  EnsureUsagePartitions: 'ensure-usage-partitions',
  PurgeOldUsage: 'purge-old-usage',
  RollupUsage: 'rollup-usage',
  Reconcile: 'reconcile-balances',
  ReleaseExpiredHolds: 'release-expired-holds',
} as const;

export const MeteringJob = {
  /** Drains one shard of the tenants' usage streams (data: MeteringDrainJob). */
  Drain: 'metering-drain',
} as const;

/** One shard of the usage streams: the tenants whose id hashes to `shard` modulo `shards`. */
export interface MeteringDrainJob {
  shard: number;
  shards: number;
}

export const SettlementJob = {
  CloseStatements: 'close-statements',
} as const;
export const WebhooksJob = {
  Deliver: 'webhook-deliver',
} as const;

/** One delivery of one event to one endpoint; the job id is the delivery id (enqueueing twice is a no-op). */
export interface WebhookDeliveryJob {
  tenantId: string;
  deliveryId: string;
}
