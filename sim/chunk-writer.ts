import { nativeErrorBody } from './http-errors';
import type { RequestContext } from './request-context';

export const NDJSON_TYPE = 'application/x-ndjson';
export const SSE_TYPE = 'text/event-stream';

/** Delay between the last chunk a 'drop' fault lets through and the cut. */
const DROP_GRACE_MS = 20;

/**
 * Writes a streamed answer chunk by chunk (one NDJSON line or one SSE event per chunk).
 * Headers go out with the first chunk, so an error before any content still gets a real status.
 * A 'drop' fault is honoured here: after `afterChunks` chunks the socket is destroyed.
 */
export class ChunkWriter {
  private chunks = 0;
  private started = false;
  /** Set when a drop fault ended the stream. */
  dropped = false;

  constructor(
    private readonly rc: RequestContext,
    private readonly contentType: string,
  ) {}

  get headersSent(): boolean {
    return this.started;
  }

  /** Writes chunks (each a complete line or event). False when the stream is over (client gone or dropped). */
  write(pieces: readonly string[]): boolean {
    const { rc } = this;
    if (this.dropped || rc.closed) return false;
    if (pieces.length === 0) return true;
    const fault = rc.currentFault();
    let count = pieces.length;
    let drop = false;
    if (fault?.kind === 'drop' && this.chunks + count > fault.afterChunks) {
      count = Math.max(0, fault.afterChunks - this.chunks);
      drop = true;
    }
    if (count > 0) {
      this.start();
      const data = count === 1 ? pieces[0] : (count === pieces.length ? pieces : pieces.slice(0, count)).join('');
      this.chunks += count;
      if (drop) {
        this.dropped = true;
        rc.entry.outcome = 'fault';
        rc.killedByNode = true;
        // Let the client take in the last chunks before the cut: a reader whose stream errors drops what it has queued.
        rc.res.write(data, () => setTimeout(() => rc.dropConnection(), DROP_GRACE_MS).unref());
        return false;
      }
      rc.res.write(data);
      return true;
    }
    if (drop) {
      this.dropped = true;
      rc.dropConnection();
      return false;
    }
    return true;
  }

  /** Writes the last chunks and ends the answer. */
  end(pieces: readonly string[]): void {
    if (!this.write(pieces)) return;
    this.start();
    this.rc.endResponse();
  }

  /**
   * An error: a real status with a JSON body when nothing was sent yet; otherwise one last
   * `{"error": ...}` chunk (no done line), formatted by the caller for SSE.
   */
  fail(status: number, message: string, chunk: string = nativeErrorBody(message) + '\n'): void {
    const { rc } = this;
    if (rc.closed) return;
    if (!this.started) {
      rc.replyError(status, message);
      return;
    }
    rc.endResponse(chunk);
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.rc.res.writeHead(200, { 'Content-Type': this.contentType });
    this.rc.markFirstByte();
  }
}
