import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { nowMs } from './clock';
import { nativeErrorBody, openAIErrorBody } from './http-errors';
import type { SimFault, SimLogEntry } from './types';

export type ErrorStyle = 'native' | 'openai';

const JSON_TYPE = 'application/json; charset=utf-8';

/** Largest request body accepted (blobs included). */
export const MAX_BODY_BYTES = 256 * 1024 * 1024;

/** Sends RST where the platform allows it, like a crashed server would. */
export function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (typeof socket.resetAndDestroy === 'function') {
    try {
      socket.resetAndDestroy();
      return;
    } catch {
      // not connected any more: plain destroy below
    }
  }
  socket.destroy();
}

/**
 * One HTTP request on a simulated node: its log entry, its cancel signal, and every way of answering it.
 * Every complete answer goes through replyBody(), which honours a 'drop' fault by destroying the socket instead.
 */
export class RequestContext {
  readonly abortController = new AbortController();
  /** performance.now() at arrival; total_duration counts from here. */
  readonly t0 = performance.now();
  body: Buffer = Buffer.alloc(0);
  errorStyle: ErrorStyle = 'native';
  /** Set when the node (down fault, stop) rather than the client ended the request. */
  killedByNode = false;
  /** Set once the handler is done with the request, whatever happened. */
  settled = false;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly path: string,
    readonly entry: SimLogEntry,
    private readonly fault: () => SimFault | null,
  ) {}

  get signal(): AbortSignal {
    return this.abortController.signal;
  }

  currentFault(): SimFault | null {
    return this.fault();
  }

  markFirstByte(): void {
    if (this.entry.firstByteAt === undefined) this.entry.firstByteAt = nowMs();
  }

  /** Ends the answer and logs the time (before the slot is released, so queued requests never seem to overlap). */
  endResponse(data?: string | Buffer): void {
    this.entry.endedAt = nowMs();
    if (data === undefined) this.res.end();
    else this.res.end(data);
  }

  /** True when the socket is gone or the answer already ended. */
  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }

  /** Ends the exchange abruptly (drop fault): the client sees the connection close mid-answer. */
  dropConnection(): void {
    this.entry.outcome = 'fault';
    this.killedByNode = true;
    this.res.destroy();
    this.req.socket.destroy();
  }

  replyBody(status: number, contentType: string, body: string | Buffer): void {
    if (this.closed) return;
    if (this.fault()?.kind === 'drop') {
      this.dropConnection();
      return;
    }
    const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    this.res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': length });
    this.markFirstByte();
    this.endResponse(body);
  }

  replyJson(status: number, value: unknown): void {
    this.replyBody(status, JSON_TYPE, JSON.stringify(value));
  }

  replyEmpty(status: number): void {
    if (this.closed) return;
    if (this.fault()?.kind === 'drop') {
      this.dropConnection();
      return;
    }
    this.res.writeHead(status, { 'Content-Length': 0 });
    this.endResponse();
  }

  replyError(status: number, message: string): void {
    const body = this.errorStyle === 'openai' ? openAIErrorBody(status, message) : nativeErrorBody(message);
    this.replyBody(status, JSON_TYPE, body);
  }
}

/** Reads the whole body; rejects when it is too large or the request is aborted. */
export function readBody(req: IncomingMessage, signal: AbortSignal): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let finished = false;
    const finish = (err?: Error): void => {
      if (finished) return;
      finished = true;
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    };
    const onAbort = (): void => finish(new Error('request aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        finish(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => finish());
    req.on('error', (err) => finish(err));
  });
}
