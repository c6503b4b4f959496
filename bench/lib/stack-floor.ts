import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { IsBoolean, IsNotEmpty, IsOptional, IsString, validateSync } from 'class-validator';
import type { Request, Response } from 'express';
import { json } from 'express';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';

/**
 * The floor of the product's fixed decisions: what a gateway costs that does only what every Herd request must,
 * on the stack Herd must use (NestJS on Express, class-validator on the body, a slot lease reserved and released
 * in Redis by a script, undici to the node) and nothing else: no queue, no scheduler, no metrics, no logs.
 * bench:overhead runs it beside Herd and the bare proxy, so the part of Herd's cost the stack itself sets is
 * visible. Usage: node dist/bench/lib/stack-floor.js <node url> <redis url>   (prints "URL <its own url>")
 * STACK_FLOOR_SKIP=validate,redis leaves those steps out, to see what each one costs.
 */

const SKIP = new Set((process.env.STACK_FLOOR_SKIP ?? '').split(',').filter(Boolean));

const RESERVE = `if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1`;
const RELEASE = `return redis.call('ZREM', KEYS[1], ARGV[1])`;

class GenerateBody {
  @IsString() @IsNotEmpty() model!: string;
  @IsOptional() @IsString() prompt?: string;
  @IsOptional() @IsBoolean() stream?: boolean;
}

type ScriptedRedis = Redis & {
  floorReserve(key: string, id: string, slots: number, expiry: number): Promise<number>;
  floorRelease(key: string, id: string): Promise<number>;
};

/**
 * The route, registered on Express directly inside the Nest app (the cheapest registration the product allows;
 * a Nest controller costs more): validate, reserve, call the node, copy its answer, release.
 */
function generateRoute(pool: Pool, redis: ScriptedRedis, key: string) {
  return async (req: Request, res: Response): Promise<void> => {
    const errors = SKIP.has('validate') ? [] : validateSync(Object.assign(new GenerateBody(), req.body as object), { forbidUnknownValues: false, stopAtFirstError: true });
    if (errors.length > 0) {
      res.status(400).json({ error: 'invalid body' });
      return;
    }
    const id = randomUUID();
    if (!SKIP.has('redis') && (await redis.floorReserve(key, id, 1_000_000, Date.now() + 15_000)) !== 1) {
      res.status(503).json({ error: 'busy' });
      return;
    }
    try {
      const up = await pool.request({ method: 'POST', path: '/api/generate', body: JSON.stringify(req.body), headers: { 'content-type': 'application/json' } });
      res.status(up.statusCode).setHeader('content-type', String(up.headers['content-type'] ?? 'application/json'));
      for await (const chunk of up.body) res.write(chunk);
    } catch {
      if (!res.headersSent) res.status(502);
    } finally {
      if (!SKIP.has('redis')) await redis.floorRelease(key, id);
    }
    res.end();
  };
}

@Module({})
class FloorModule {}

async function main(): Promise<void> {
  const [nodeUrl, redisUrl] = process.argv.slice(2);
  const pool = new Pool(nodeUrl, { connections: 256, pipelining: 1 });
  const redis = new Redis(redisUrl, { enableAutoPipelining: true }) as ScriptedRedis;
  redis.defineCommand('floorReserve', { numberOfKeys: 1, lua: RESERVE });
  redis.defineCommand('floorRelease', { numberOfKeys: 1, lua: RELEASE });
  const app = await NestFactory.create<NestExpressApplication>(FloorModule, { logger: false, bodyParser: false });
  app.use(json({ limit: '10mb' }));
  const route = generateRoute(pool, redis, `floor:${randomUUID()}`);
  const express = app.getHttpAdapter().getInstance() as { post(path: string, handler: (req: Request, res: Response) => void): void };
  for (const path of ['/api/generate', '/ollama/generate']) express.post(path, (req, res) => void route(req, res));
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  process.stdout.write(`URL http://127.0.0.1:${port}\n`);
  process.on('SIGTERM', () => process.exit(0));
}

void main();
