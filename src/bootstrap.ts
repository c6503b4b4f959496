import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { json, type NextFunction, type Request, type Response } from 'express';
import type { AddressInfo } from 'node:net';
import { HerdExceptionFilter, writeError } from './api/errors/herd-exception.filter';
import { rejectedRequestRecord } from './api/errors/rejected-request';
import { AppModule } from './app.module';
import type { ClientError } from './common/client-error';
import type { HerdConfig } from './config/herd-config';
import { bodyParserMessage, jsonBodyProblem, noteBodyBytes } from './admission/json-body-check';
import { Logger } from './common/logger';
import { HerdCore } from './core/herd-core';
import { startEmbeddedRedis, type EmbeddedRedis } from './redis/embedded-redis';
import { describeTarget, type RedisTarget } from './redis/redis-connections';
import { warnIfLocked } from './security/startup-warning';

export interface RunningHerd {
  url: string;
  port: number;
  core: HerdCore;
  app: NestExpressApplication;
  /** Graceful: stop admitting, let running requests finish (up to drainMs), then close everything. */
  close(drainMs?: number): Promise<void>;
}

/** Starts one Herd replica: Redis (a server, a cluster, or embedded), the core, then HTTP. */
export async function startHerd(config: HerdConfig, log = new Logger(config.logLevel, config.logFormat)): Promise<RunningHerd> {
  let embedded: EmbeddedRedis | undefined;
  let target: RedisTarget;
  if (config.redisClusterNodes) target = { kind: 'cluster', nodes: config.redisClusterNodes };
  else if (config.redisUrl) target = { kind: 'single', url: config.redisUrl };
  else {
    embedded = await startEmbeddedRedis();
    target = { kind: 'single', url: embedded.url };
    log.info('no REDIS_URL set: started an embedded redis-server', { url: embedded.url });
  }
  let core: HerdCore;
  try {
    core = await HerdCore.create(config, target, log);
  } catch (err) {
    await embedded?.stop();
    throw err;
  }
  const recordRejection = (req: Request, err: ClientError): void => {
    const record = rejectedRequestRecord(req, err.status, err.code, err.message, config.replicaId);
    if (record) core.events.emit(record);
  };
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forCore(core), { bodyParser: false, logger: ['error', 'warn'] });
  // Blob uploads are not JSON and may be huge: their body is left unread for the route to stream to a node.
  app.use(json({ limit: config.bodyLimit, type: (req) => !(req.url ?? '').startsWith('/api/blobs/'), verify: noteBodyBytes }));
  // A prototype key or absurd nesting is refused before any DTO, log line or node sees the body.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const problem = jsonBodyProblem(req.body);
    if (problem === undefined) return next();
    const err = { status: 400, message: problem, code: 'HERD_BAD_REQUEST' };
    recordRejection(req, err);
    writeError(req, res, err);
  });
  app.use((err: Error & { status?: number; type?: string }, req: Request, res: Response, next: NextFunction) => {
    if (!err) return next();
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 400;
    const clientError = { status, message: bodyParserMessage(err, config.bodyLimit), code: 'HERD_BAD_REQUEST' };
    recordRejection(req, clientError);
    writeError(req, res, clientError);
  });
  app.useGlobalFilters(new HerdExceptionFilter(log, recordRejection));
  app.disable('x-powered-by');
  app.set('etag', false); // hashing every answer body buys nothing for API clients
  await app.listen(config.port, config.host);
  const port = (app.getHttpServer().address() as AddressInfo).port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${host}:${port}`;
  log.info('herd is listening', { url, redis: describeTarget(target), nodes: core.fleet.nodes().length, up: core.fleet.upCount(), strategy: config.strategy, replica: config.replicaId });
  warnIfLocked(config, log);

  let closing: Promise<void> | undefined;
  const close = (drainMs = 30_000): Promise<void> =>
    (closing ??= (async () => {
      core.drain();
      const deadline = Date.now() + drainMs;
      while (core.inference.pendingCount() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (core.inference.pendingCount() > 0) log.warn('drain deadline passed; closing with requests still running', { pending: core.inference.pendingCount() });
      await app.close();
      await core.close();
      await embedded?.stop();
    })());
  return { url, port, core, app, close };
}

/** For entry points: a running Herd, or the reason on the log and exit code 1 (after `cleanup`). */
export async function startHerdOrExit(config: HerdConfig, log: Logger, cleanup: () => Promise<void> = async () => undefined): Promise<RunningHerd> {
  try {
    return await startHerd(config, log);
  } catch (err) {
    log.error((err as Error).message);
    await cleanup();
    process.exit(1);
  }
}
