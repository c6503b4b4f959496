import type { RedisLike } from './redis-connections';

/** Runs a Lua script registered with `defineCommand(name, ...)`: ioredis adds it as a method of that name. */
export function runScript(redis: RedisLike, name: string, ...args: (string | number)[]): Promise<unknown> {
  const fn = (redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[name];
  return fn.apply(redis, args);
}
