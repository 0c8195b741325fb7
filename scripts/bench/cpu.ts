/**
 * CPU time per process group, read from /proc (Linux): what each part of the system spends per
 * request during a measured run. Unlike wall-clock figures it hardly depends on what else the
 * machine runs, so it shows where the gateway's cost goes even on a busy machine.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export interface CpuGroups {
  /** Group name -> root pids; a group also counts the roots' descendants (PostgreSQL backends). */
  [group: string]: Array<number | undefined>;
}

interface ProcStat {
  ppid: number;
  ticks: number;
}

function readAll(): Map<number, ProcStat> {
  const all = new Map<number, ProcStat>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // After the command: state(0) ppid(1) ... utime(11) stime(12)
      all.set(Number(name), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // the process ended meanwhile
    }
  }
  return all;
}

/** CPU ticks of each process of each group (descendants included), at this instant. */
export function cpuSnapshot(groups: CpuGroups): Record<string, Map<number, number>> {
  const all = readAll();
  const children = new Map<number, number[]>();
  for (const [pid, s] of all) children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
  const result: Record<string, Map<number, number>> = {};
  for (const [group, roots] of Object.entries(groups)) {
    const ticks = new Map<number, number>();
    const stack = roots.filter((p): p is number => p !== undefined);
    while (stack.length) {
      const pid = stack.pop()!;
      if (ticks.has(pid)) continue;
      ticks.set(pid, all.get(pid)?.ticks ?? 0);
      stack.push(...(children.get(pid) ?? []));
    }
    result[group] = ticks;
  }
  return result;
}

/**
 * CPU milliseconds each group used between two snapshots: per process, so a process that ended
 * meanwhile (a PostgreSQL backend) is left out rather than subtracted; one that started counts whole.
 */
export function cpuDelta(before: Record<string, Map<number, number>>, after: Record<string, Map<number, number>>): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [group, ticks] of Object.entries(after)) {
    let sum = 0;
    for (const [pid, t] of ticks) sum += t - (before[group]?.get(pid) ?? 0);
    result[group] = (sum * 1000) / TICKS_PER_SECOND;
  }
  return result;
}
