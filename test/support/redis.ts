import { startEmbeddedRedis, type EmbeddedRedis } from '../../src/redis/embedded-redis';

/** A real redis-server for one test file. */
export function startRedis(): Promise<EmbeddedRedis> {
  return startEmbeddedRedis();
}

let counter = 0;
/** A key prefix no other test uses, so tests can share one server. */
export function uniquePrefix(name: string): string {
  counter += 1;
  return `t-${name}-${process.pid}-${counter}`;
}
