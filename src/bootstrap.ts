import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { json, type NextFunction, type Request, type Response } from 'express';
import type { AddressInfo } from 'node:net';
import { AdmissionService } from './admission/admission.service';
import { bodyParserMessage, jsonBodyProblem, noteBodyBytes } from './admission/json-body-check';
import { HerdExceptionFilter, writeError } from './api/errors/herd-exception.filter';
import { rejectedRequestRecord } from './api/errors/rejected-request';
import { AppModule } from './app.module';
import type { ClientError } from './common/client-error';
import { Logger } from './common/logger';
import type { HerdConfig } from './config/herd-config';
import { FleetRegistry } from './fleet/fleet-registry';
import { LedgerRepository } from './fleet/ledger.repository';
import { InferenceService } from './inference/inference.service';
import { RequestEvents } from './inference/request-events';
import { JobQueueRepository } from './queue/job-queue.repository';
import { startEmbeddedRedis, type EmbeddedRedis } from './redis/embedded-redis';
import { describeTarget, RedisConnections, type RedisTarget } from './redis/redis-connections';
import { RedisWatchdog } from './redis/redis-watchdog';
import { warnIfLocked } from './security/startup-warning';

/**
 * Read-only handles on a running replica's parts, for tests, scripts and main.ts. Taken from the Nest container
 * once it has started; nothing in src/ is given this object.
 */
export interface HerdHandles {
  readonly config: HerdConfig;
  readonly fleet: FleetRegistry;
  readonly inference: InferenceService;
  readonly events: RequestEvents;
  readonly ledger: LedgerRepository;
  readonly queue: JobQueueRepository;
  readonly watchdog: RedisWatchdog;
}

export interface RunningHerd {
  url: string;
  port: number;
  core: HerdHandles;
  app: NestExpressApplication;
  /** Graceful: stop admitting, let running requests finish (up to drainMs), then close everything. */
  close(drainMs?: number): Promise<void>;
}

/** Starts one Herd replica: Redis (a server, a cluster, or embedded) and its connections, then Nest and HTTP. */
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
  let redis: RedisConnections;
  try {
    redis = await RedisConnections.open(target, config.redisCommandTimeoutMs);
  } catch (err) {
    await embedded?.stop();
    throw err;
  }
  let app: NestExpressApplication | undefined;
  try {
    app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, log, redis), { bodyParser: false, logger: ['error', 'warn'] });
    serveHttp(app, config, log);
    // Starts every part (HerdLifecycle) before the server listens.
    await app.listen(config.port, config.host);
  } catch (err) {
    await app?.close().catch(() => undefined);
    redis.disconnect();
    await embedded?.stop();
    throw err;
  }
  const core = handles(app, config);
  const port = (app.getHttpServer().address() as AddressInfo).port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${host}:${port}`;
  log.info('herd is listening', { url, redis: describeTarget(target), nodes: core.fleet.nodes().length, up: core.fleet.upCount(), strategy: config.strategy, replica: config.replicaId });
  warnIfLocked(config, log);

  const admission = app.get(AdmissionService);
  const running = app;
  let closing: Promise<void> | undefined;
  const close = (drainMs = 30_000): Promise<void> =>
    (closing ??= (async () => {
      admission.drain();
      const deadline = Date.now() + drainMs;
      while (core.inference.pendingCount() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (core.inference.pendingCount() > 0) log.warn('drain deadline passed; closing with requests still running', { pending: core.inference.pendingCount() });
      await running.close(); // HTTP first, then every part (HerdLifecycle)
      redis.disconnect();
      await embedded?.stop();
    })());
  return { url, port, core, app, close };
}

/** Body parsing, the checks that come before any route, and the one error shape, around Nest's routes. */
function serveHttp(app: NestExpressApplication, config: HerdConfig, log: Logger): void {
  const events = app.get(RequestEvents);
  const recordRejection = (req: Request, err: ClientError): void => {
    const record = rejectedRequestRecord(req, err.status, err.code, err.message, config.replicaId);
    if (record) events.emit(record);
  };
  // Blob uploads are not JSON and may be huge: their body is left unread for the route to stream to a node. So is a
  // multipart file upload, which its route reads within HERD_BATCH_MAX_FILE_BYTES.
  app.use(json({ limit: config.bodyLimit, type: (req) => !(req.url ?? '').startsWith('/api/blobs/') && !isMultipart(req.headers['content-type']), verify: noteBodyBytes }));
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
}

function handles(app: NestExpressApplication, config: HerdConfig): HerdHandles {
  return {
    config,
    fleet: app.get(FleetRegistry),
    inference: app.get(InferenceService),
    events: app.get(RequestEvents),
    ledger: app.get(LedgerRepository),
    queue: app.get(JobQueueRepository),
    watchdog: app.get(RedisWatchdog),
  };
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

function isMultipart(contentType: string | undefined): boolean {
  return /^\s*multipart\//i.test(contentType ?? '');
}
