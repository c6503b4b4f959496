import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { nowMs, SimAbortError, sleep } from './clock';
import { DEFAULT_FAULT_MESSAGE } from './completion-runner';
import { parseFault } from './fault-spec';
import { busyError, HttpError } from './http-errors';
import { InferenceEngine } from './inference-engine';
import { describeModel } from './model-catalog';
import { ModelStore } from './model-store';
import { type ResolvedNodeOptions, resolveNodeOptions } from './node-options';
import type { NodeServices } from './node-services';
import { PromptCache, type PromptCacheSnapshot } from './prompt-cache';
import { readBody, RequestContext, resetSocket } from './request-context';
import { matchRoute, type RouteMatch } from './route-table';
import { SlotPool } from './slot-pool';
import type { SimFault, SimLogEntry, SimNode, SimNodeOptions } from './types';

/** Log entries kept per node (oldest dropped first). */
export const LOG_CAPACITY = 10_000;

interface SocketState {
  /** /_sim requests being served on this socket: a 'down' fault spares it. */
  controlRequests: number;
}

const JSON_TYPE = 'application/json; charset=utf-8';

class SimNodeImpl implements SimNode, NodeServices {
  readonly options: ResolvedNodeOptions;
  readonly store: ModelStore;
  readonly engine: InferenceEngine;
  readonly slots: SlotPool;
  readonly cache: PromptCache;
  readonly startedAt = new Date();
  readonly log: SimLogEntry[] = [];

  private readonly server: Server;
  private readonly sockets = new Map<Socket, SocketState>();
  private readonly inflight = new Set<RequestContext>();
  private readonly hangWaiters = new Set<() => void>();
  private currentFault: SimFault | null = null;
  private nextId = 1;
  private boundPort: number;
  private listening = false;
  private closed = false;

  constructor(opts: SimNodeOptions) {
    this.options = resolveNodeOptions(opts);
    this.boundPort = this.options.port;
    this.slots = new SlotPool(this.options.slots, this.options.maxQueue);
    this.cache = new PromptCache({
      slots: this.options.slots,
      hostEntries: this.options.promptCacheEntries,
      multiUser: this.options.multiUserCache,
    });
    this.store = new ModelStore(
      this.options.maxLoadedModels,
      () => sleep(this.options.loadMs * this.delayFactor()),
      nowMs,
      this.options.caseSensitiveNames,
      (key) => this.cache.clearModel(key),
    );
    for (const model of this.options.models) this.store.put(describeModel(model, this.startedAt));
    this.store.preload(this.options.resident);
    this.engine = new InferenceEngine({
      slots: this.slots,
      store: this.store,
      cache: this.cache,
      speed: this.options,
      delayFactor: () => this.delayFactor(),
    });
    this.server = createServer({ requestTimeout: 0, keepAliveTimeout: 5000, noDelay: true }, (req, res) =>
      this.onRequest(req, res),
    );
    this.server.on('connection', (socket: Socket) => {
      this.sockets.set(socket, { controlRequests: 0 });
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  get name(): string {
    return this.options.name;
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    const host = this.options.host;
    const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    return `http://${shown}:${this.boundPort}`;
  }

  // ---- SimNode -------------------------------------------------------------------------------------------

  setFault(fault: SimFault | null): void {
    this.currentFault = fault;
    if (fault?.kind !== 'hang') {
      const waiters = [...this.hangWaiters];
      this.hangWaiters.clear();
      for (const release of waiters) release();
    }
    if (fault?.kind === 'down') this.dropAllConnections();
  }

  active(): number {
    return this.slots.active();
  }

  queued(): number {
    return this.slots.queued();
  }

  maxActiveSeen(): number {
    return this.slots.maxActiveSeen();
  }

  resetLog(): void {
    this.log.length = 0;
    this.slots.resetHighWater();
    this.cache.resetStats();
  }

  promptCache(): PromptCacheSnapshot {
    this.store.residentModels(); // expires idle models (and so their caches) first
    return this.cache.snapshot();
  }

  async stop(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    const closedPromise = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const rc of this.inflight) rc.killedByNode = true;
    for (const socket of this.sockets.keys()) resetSocket(socket);
    await closedPromise;
  }

  async start(): Promise<void> {
    if (this.closed) throw new Error(`simulator node "${this.name}" is closed`);
    if (this.listening) return;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(this.boundPort, this.options.host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    this.boundPort = (this.server.address() as AddressInfo).port;
    this.listening = true;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.setFault(null);
    await this.stop();
  }

  // ---- NodeServices --------------------------------------------------------------------------------------

  fault(): SimFault | null {
    return this.currentFault;
  }

  delayFactor(): number {
    const fault = this.currentFault;
    return this.options.timeScale * (fault?.kind === 'slow' ? fault.factor : 1);
  }

  sleepSim(ms: number, signal: AbortSignal): Promise<void> {
    return sleep(ms * this.delayFactor(), signal);
  }

  checkBusyFault(): void {
    if (this.currentFault?.kind === 'busy') throw busyError();
  }

  // ---- HTTP ----------------------------------------------------------------------------------------------

  private dropAllConnections(): void {
    for (const rc of this.inflight) rc.killedByNode = true;
    for (const [socket, state] of this.sockets) {
      if (state.controlRequests === 0) resetSocket(socket);
    }
  }

  private newEntry(route: string, req: IncomingMessage): SimLogEntry {
    const entry: SimLogEntry = {
      id: this.nextId++,
      node: this.name,
      route,
      model: '',
      receivedAt: nowMs(),
      outcome: 'ok',
      promptTokens: 0,
      cachedTokens: 0,
      evalCount: 0,
      activeAtStart: 0,
    };
    const priority = req.headers['x-herd-priority'];
    if (priority !== undefined) entry.priorityHeader = Array.isArray(priority) ? priority.join(',') : priority;
    this.log.push(entry);
    if (this.log.length > LOG_CAPACITY + LOG_CAPACITY / 10) this.log.splice(0, this.log.length - LOG_CAPACITY);
    return entry;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    if (path.startsWith('/_sim/')) {
      void this.handleControl(req, res, path);
      return;
    }
    const method = req.method ?? 'GET';
    const match = matchRoute(method, path);
    const entry = this.newEntry(match.route, req);
    if (this.currentFault?.kind === 'down') {
      entry.outcome = 'fault';
      entry.endedAt = nowMs();
      resetSocket(req.socket);
      return;
    }
    const rc = new RequestContext(req, res, path, entry, () => this.currentFault);
    if (match.openai) rc.errorStyle = 'openai';
    this.inflight.add(rc);
    res.on('close', () => {
      this.inflight.delete(rc);
      entry.endedAt ??= nowMs();
      if (!res.writableFinished) {
        if (entry.outcome === 'ok') entry.outcome = rc.killedByNode ? 'fault' : 'canceled';
        rc.abortController.abort();
      }
    });
    void this.dispatch(rc, match);
  }

  private waitWhileHanging(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.hangWaiters.delete(release);
        reject(new SimAbortError());
      };
      const release = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      this.hangWaiters.add(release);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private async dispatch(rc: RequestContext, match: RouteMatch): Promise<void> {
    try {
      if (this.currentFault?.kind === 'hang') await this.waitWhileHanging(rc.signal);
      const fault = this.currentFault;
      if (fault?.kind === 'down') {
        rc.killedByNode = true;
        resetSocket(rc.req.socket);
        return;
      }
      if (fault?.kind === 'error500') throw new HttpError(500, fault.message ?? DEFAULT_FAULT_MESSAGE, 'fault');
      if (!match.handler) {
        if (match.status === 405) throw new HttpError(405, '405 method not allowed', 'not_found');
        throw new HttpError(404, '404 page not found', 'not_found');
      }
      if (match.readsBody) rc.body = await readBody(rc.req, rc.signal);
      if (!match.usesSlot) rc.entry.startedAt = nowMs();
      await match.handler(this, rc);
    } catch (err) {
      if (err instanceof SimAbortError || rc.signal.aborted) return;
      if (err instanceof HttpError) {
        rc.entry.outcome = err.outcome;
        this.answerError(rc, err.status, err.message);
        return;
      }
      rc.entry.outcome = 'error';
      this.answerError(rc, 500, err instanceof Error ? err.message : String(err));
    } finally {
      rc.settled = true;
    }
  }

  private answerError(rc: RequestContext, status: number, message: string): void {
    if (rc.closed) return;
    if (!rc.res.headersSent) {
      rc.replyError(status, message);
      return;
    }
    rc.endResponse(JSON.stringify({ error: message }) + '\n');
  }

  private state(): Record<string, unknown> {
    return {
      name: this.name,
      url: this.url,
      active: this.active(),
      queued: this.queued(),
      maxActiveSeen: this.maxActiveSeen(),
      resident: this.store.residentModels().map((r) => r.entry.name),
      models: this.store.list().map((m) => m.name),
      fault: this.currentFault,
      slots: this.options.slots,
      decodeTps: this.options.decodeTps,
      timeScale: this.options.timeScale,
      promptCache: this.promptCache().stats,
    };
  }

  /** /_sim/* — never logged, never faulted, never queued. */
  private async handleControl(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const state = this.sockets.get(req.socket);
    if (state) state.controlRequests++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      if (state) state.controlRequests--;
    };
    res.on('close', release);
    const send = (status: number, value: unknown): void => {
      const body = JSON.stringify(value);
      res.writeHead(status, { 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    };
    try {
      const key = `${req.method ?? 'GET'} ${path}`;
      switch (key) {
        case 'POST /_sim/fault': {
          const body = await readBody(req, new AbortController().signal);
          const fault = parseFault(JSON.parse(body.toString('utf8')));
          this.setFault(fault);
          send(200, { fault });
          return;
        }
        case 'DELETE /_sim/fault':
          this.setFault(null);
          send(200, { fault: null });
          return;
        case 'GET /_sim/log':
          send(200, this.log);
          return;
        case 'DELETE /_sim/log':
          this.resetLog();
          send(200, {});
          return;
        case 'GET /_sim/state':
          send(200, this.state());
          return;
        case 'GET /_sim/cache':
          send(200, this.promptCache());
          return;
        default:
          send(404, { error: '404 page not found' });
      }
    } catch (err) {
      if (!res.headersSent && !res.destroyed) send(400, { error: err instanceof Error ? err.message : String(err) });
    }
  }
}

/** Starts one simulated Ollama server; resolves once it listens. */
export async function startSimNode(opts: SimNodeOptions): Promise<SimNode> {
  const node = new SimNodeImpl(opts);
  await node.start();
  return node;
}
