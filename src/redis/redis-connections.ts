import { Redis, type RedisOptions } from 'ioredis';

export class RedisUnreachableError extends Error {
  constructor(url: string, cause: string) {
    super(
      `Cannot reach Redis at ${redactUrl(url)} (${cause}). Herd keeps its queue and fleet state in Redis: ` +
        'start Redis there, fix REDIS_URL, or unset REDIS_URL/REDIS_HOST to let Herd start its own redis-server.',
    );
  }
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

/**
 * Connection options per role. Commands on the request path fail fast while Redis is away (no offline queue),
 * so a client gets a quick 503 instead of a hang; BullMQ workers and subscribers retry forever.
 */
export function redisOptions(role: 'command' | 'worker' | 'subscriber'): RedisOptions {
  const base: RedisOptions = {
    lazyConnect: true,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(50 * times, 1000),
  };
  switch (role) {
    case 'command':
      // Auto-pipelining sends the commands of many concurrent requests in one write.
      return { ...base, enableOfflineQueue: false, maxRetriesPerRequest: 1, enableAutoPipelining: true };
    case 'worker':
    case 'subscriber':
      return { ...base, maxRetriesPerRequest: null };
  }
}

/** Opens a connection and proves it answers PING, or throws RedisUnreachableError with the reason. */
export async function connectRedis(url: string, role: 'command' | 'worker' | 'subscriber'): Promise<Redis> {
  const client = new Redis(url, { ...redisOptions(role), retryStrategy: () => null });
  let lastError = 'no answer';
  client.on('error', (err: Error) => (lastError = err.message));
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    client.disconnect();
    throw new RedisUnreachableError(url, (err as Error).message || lastError);
  }
  client.disconnect();
  const live = new Redis(url, redisOptions(role));
  live.on('error', () => undefined); // reconnects are handled by ioredis; health reports the state
  await live.connect();
  return live;
}
