/**
 * Ollama echoes the request's `model` in its answers (`"model":"…"` in the JSON answer, in every NDJSON chunk
 * and in every OpenAI-style SSE event). When Herd sends a node the node's own spelling of a model (the client
 * spelled it differently), the node echoes that spelling; ModelEcho puts the client's back, so the client sees
 * the name it asked for, as it would from one Ollama server.
 *
 * It works on bytes, not JSON: the exact sequence `"model":<node spelling as a JSON string>` (Ollama's encoder
 * writes no spaces) is replaced by the same with the client's spelling. Nothing is parsed, and it only exists
 * for the requests whose spelling differed; every other request streams untouched. Inside generated text the
 * sequence cannot occur as such (quotes there are escaped). A sequence split across two chunks is completed
 * by holding the chunk's tail back until the next chunk arrives (end() gives back what is still held).
 */
export class ModelEcho {
  private readonly from: Buffer;
  private readonly to: Buffer;
  private readonly fromText: string;
  private readonly toText: string;
  private held: Buffer | undefined;

  constructor(nodeSpelling: string, clientSpelling: string) {
    this.fromText = `"model":${JSON.stringify(nodeSpelling)}`;
    this.toText = `"model":${JSON.stringify(clientSpelling)}`;
    this.from = Buffer.from(this.fromText);
    this.to = Buffer.from(this.toText);
  }

  /** A whole answer, rewritten. */
  text(body: string): string {
    return body.includes(this.fromText) ? body.split(this.fromText).join(this.toText) : body;
  }

  /** One chunk of a stream, rewritten; may hold back a tail that could be the start of a split sequence. */
  chunk(data: Buffer): Buffer {
    const input = this.held ? Buffer.concat([this.held, data]) : data;
    this.held = undefined;
    let out = input;
    let searchFrom = 0;
    let at = input.indexOf(this.from);
    if (at >= 0) {
      const parts: Buffer[] = [];
      let pos = 0;
      while (at >= 0) {
        parts.push(input.subarray(pos, at), this.to);
        pos = at + this.from.length;
        at = input.indexOf(this.from, pos);
      }
      parts.push(input.subarray(pos));
      out = Buffer.concat(parts);
      // Only what follows the last replacement can start a split sequence.
      searchFrom = out.length - (input.length - pos);
    }
    const keep = partialMatchAtEnd(out, this.from, searchFrom);
    if (keep === 0) return out;
    this.held = Buffer.from(out.subarray(out.length - keep));
    return out.subarray(0, out.length - keep);
  }

  /** What is still held back at the end of the stream (it was not the start of a sequence after all). */
  end(): Buffer | undefined {
    const held = this.held;
    this.held = undefined;
    return held;
  }
}

/** Length of the longest tail of `buf` (starting at or after `from`) that is a proper prefix of `pattern`. */
function partialMatchAtEnd(buf: Buffer, pattern: Buffer, from: number): number {
  const longest = Math.min(pattern.length - 1, buf.length - from);
  for (let k = longest; k > 0; k--) {
    const start = buf.length - k;
    if (buf[start] === pattern[0] && buf.compare(pattern, 0, k, start, buf.length) === 0) return k;
  }
  return 0;
}
