/** What closing needs of an ioredis client (or of BullMQ's wrapper's client). */
export interface ClosableClient {
  status?: string;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/**
 * Closes a Redis client at shutdown without waiting on a Redis that is away. A client that is not
 * ready has no socket to flush, so it is disconnected at once; a ready one is sent QUIT (what it
 * sent before is answered first), and disconnected if QUIT is refused or still unanswered after
 * `boundMs`. QUIT alone hangs for ever on a client with an offline queue and no retry limit while
 * Redis is away (the subscribers), and is refused on one without an offline queue; ioredis may also
 * call a client `ready` for a moment after its server went away, hence the bound.
 */
export async function closeRedisClient(client: ClosableClient, boundMs = 2000): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') return client.disconnect();
  let timer: NodeJS.Timeout | undefined;
  const quit = client.quit().then(
    () => true,
    () => false,
  );
  const answered = await Promise.race([quit, new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), boundMs)))]);
  clearTimeout(timer);
  if (!answered) client.disconnect();
}
