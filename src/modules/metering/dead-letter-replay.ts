import { Inject, Injectable, Logger } from '@nestjs/common';
import { billingKeys, decodeUsageEvent, USAGE_EVENT_FIELD, UsageEvent } from '@app/billing';
import { REDIS } from '@app/redis';
import { SystemDb } from '@app/tenancy';
import Redis from 'ioredis';
import { classifyFailure } from './metering-failures';
import { UsageWriter } from './usage-writer';

export interface ReplayReport {
  /** Dead letters found. */
  found: number;
  /** Written now: their usage records and ledger postings were new. */
  metered: number;
  /** Already in the ledger (an earlier replay, or a delivery that did commit): nothing changed. */
  alreadyMetered: number;
  /** Left in the dead-letter stream: undecodable, or refused again (see the log). */
  left: number;
}

const PAGE = 500;

/**
 * `cli metering replay-dead-letters`: hands every tenant's dead letters to the normal metering
 * writer (idempotent by the request id), and removes from the dead-letter stream those that are
 * now in the ledger. Running it twice changes nothing: the second run finds only what is still
 * refused. A crash between the write and the removal only means the next run finds them already
 * metered.
 */
@Injectable()
export class DeadLetterReplay {
  private readonly logger = new Logger(DeadLetterReplay.name);

  constructor(
    private readonly systemDb: SystemDb,
    private readonly writer: UsageWriter,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  async replayAll(): Promise<ReplayReport> {
    const tenants: Array<{ id: string }> = await this.systemDb.run((m) => m.query(`SELECT id FROM tenants ORDER BY id`));
    const total: ReplayReport = { found: 0, metered: 0, alreadyMetered: 0, left: 0 };
    for (const { id } of tenants) {
      const report = await this.replayTenant(id);
      total.found += report.found;
      total.metered += report.metered;
      total.alreadyMetered += report.alreadyMetered;
      total.left += report.left;
    }
    return total;
  }

  async replayTenant(tenantId: string): Promise<ReplayReport> {
    const report: ReplayReport = { found: 0, metered: 0, alreadyMetered: 0, left: 0 };
    const dead = billingKeys.deadLetters(tenantId);
    let from = '-';
    for (;;) {
      const page = (await this.redis.xrange(dead, from, '+', 'COUNT', PAGE)) as Array<[string, string[]]>;
      if (page.length === 0) break;
      from = `(${page[page.length - 1][0]}`;
      report.found += page.length;
      const batch: Array<{ id: string; event: UsageEvent }> = [];
      for (const [id, fields] of page) {
        try {
          const event = decodeUsageEvent(fields[fields.indexOf(USAGE_EVENT_FIELD) + 1] ?? '');
          if (event.tenantId !== tenantId || fields.indexOf(USAGE_EVENT_FIELD) % 2 !== 0) throw new Error('not an event of this tenant');
          batch.push({ id, event });
        } catch (error) {
          report.left++;
          this.logger.warn({ tenantId, entryId: id }, `dead letter left in place: ${(error as Error).message}`);
        }
      }
      const groups = await this.writeAll(tenantId, batch);
      for (const written of groups.written) {
        report.metered += written.result.written;
        report.alreadyMetered += written.result.duplicates;
        await this.redis.xdel(dead, ...written.ids);
      }
      report.left += groups.refused;
      if (page.length < PAGE) break;
    }
    return report;
  }

  /** The page in one transaction; if that fails, event by event (an outage stops the replay: nothing is lost, run it again). */
  private async writeAll(tenantId: string, batch: Array<{ id: string; event: UsageEvent }>) {
    const written: Array<{ ids: string[]; result: { written: number; duplicates: number } }> = [];
    if (batch.length === 0) return { written, refused: 0 };
    try {
      const result = await this.writer.write(tenantId, batch.map((b) => b.event));
      written.push({ ids: batch.map((b) => b.id), result });
      return { written, refused: 0 };
    } catch {
      let refused = 0;
      for (const b of batch) {
        try {
          written.push({ ids: [b.id], result: await this.writer.write(tenantId, [b.event]) });
        } catch (error) {
          if (classifyFailure(error) === 'outage') throw error;
          refused++;
          this.logger.warn({ tenantId, entryId: b.id, requestId: b.event.requestId }, `dead letter refused again: ${(error as Error).message}`);
        }
      }
      return { written, refused };
    }
  }
}
