import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { SettleRequest } from './billing-engine';

/**
 * A local, durable journal of settlements that Redis could not take (DESIGN.md: no usage is
 * lost). Each line is one settle request, written and fsynced before the caller moves on; `replay`
 * hands them to the engine again once Redis is back. Settling is idempotent on the request id, so
 * a line replayed twice (a crash between settling and rewriting the file) changes nothing.
 */
export class SettleSpool {
  private replaying = false;

  constructor(private readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
  }

  /** Appends one request durably (fsync) before returning. */
  append(request: SettleRequest): void {
    const fd = openSync(this.file, 'a', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(request)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Requests still waiting, oldest first. A torn last line (crash mid-write) is skipped. */
  pending(): SettleRequest[] {
    if (!existsSync(this.file)) return [];
    const out: SettleRequest[] = [];
    for (const line of readFileSync(this.file, 'utf8').split('\n')) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as SettleRequest);
      } catch {
        // a torn write: the request it held never returned to its caller as spooled
      }
    }
    return out;
  }

  get size(): number {
    return this.pending().length;
  }

  /**
   * Settles every spooled request with `settle`, keeping those that still fail. Returns how many
   * were delivered. One replay at a time.
   */
  async replay(settle: (request: SettleRequest) => Promise<unknown>): Promise<number> {
    if (this.replaying) return 0;
    this.replaying = true;
    try {
      const all = this.pending();
      if (all.length === 0) return 0;
      const left: SettleRequest[] = [];
      let delivered = 0;
      for (const request of all) {
        if (left.length > 0) {
          left.push(request); // keep order once Redis fails again
          continue;
        }
        try {
          await settle(request);
          delivered++;
        } catch {
          left.push(request);
        }
      }
      // Requests appended while we replayed are kept too.
      const appended = this.pending().slice(all.length);
      const tmp = `${this.file}.tmp`;
      const fd = openSync(tmp, 'w', 0o600);
      try {
        const rest = [...left, ...appended];
        if (rest.length > 0) writeSync(fd, rest.map((r) => JSON.stringify(r)).join('\n') + '\n');
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.file);
      return delivered;
    } finally {
      this.replaying = false;
    }
  }
}
