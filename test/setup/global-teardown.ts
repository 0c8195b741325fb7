export default async function globalTeardown(): Promise<void> {
  const infra = globalThis.__AIGW_INFRA__;
  await infra?.redis?.stop();
  await infra?.postgres?.stop();
}
