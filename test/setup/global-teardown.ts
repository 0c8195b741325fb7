import { rmSync } from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const infra = globalThis.__AIGW_INFRA__;
  await infra?.redis?.stop();
  await infra?.postgres?.stop();
  // The embedded server removes its data directory; its scratch parent goes too.
  if (infra?.scratch) rmSync(infra.scratch, { recursive: true, force: true });
}
