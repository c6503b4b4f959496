/** Keys that can reach an object's prototype when a parsed body is assigned or merged into another object. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Deepest nesting a body may have. Real requests (a JSON schema in `format`, tool definitions, message lists)
 * stay far below this; a body nested deeper would only make JSON.stringify or a validator recurse out of stack.
 */
export const MAX_JSON_DEPTH = 64;

interface Frame {
  value: object;
  depth: number;
  parent?: Frame;
  key?: string | number;
}

/**
 * Why a parsed JSON body must be refused, or undefined when it is fine: a prototype key at any depth, or
 * nesting deeper than `maxDepth`. Iterative, so a hostile body cannot overflow the stack here. The message
 * names where the offending key is, never a value from the body.
 */
export function jsonBodyProblem(body: unknown, maxDepth = MAX_JSON_DEPTH): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const stack: Frame[] = [{ value: body, depth: 1 }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    if (frame.depth > maxDepth) return `request body nests deeper than ${maxDepth} levels`;
    const { value, depth } = frame;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        if (typeof item === 'object' && item !== null) stack.push({ value: item, depth: depth + 1, parent: frame, key: i });
      }
      continue;
    }
    for (const key of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(key)) return `request body must not contain the key "${key}" (at ${pathOf({ value, depth, parent: frame, key })})`;
      const item: unknown = (value as Record<string, unknown>)[key];
      if (typeof item === 'object' && item !== null) stack.push({ value: item, depth: depth + 1, parent: frame, key });
    }
  }
  return undefined;
}

/** `options.__proto__`, `messages[2].__proto__`: built only for the error; odd key names show as `?`. */
function pathOf(frame: Frame): string {
  const parts: string[] = [];
  for (let f: Frame | undefined = frame; f?.key !== undefined; f = f.parent) {
    parts.push(typeof f.key === 'number' ? `[${f.key}]` : `.${/^[A-Za-z0-9_$-]{1,40}$/.test(f.key) ? f.key : '?'}`);
  }
  const path = parts.reverse().join('').replace(/^\./, '');
  return path.length > 120 ? `${path.slice(0, 120)}…` : path;
}

/**
 * What a client is told when the body parser refuses its body. V8's JSON errors quote the body, so only the
 * position is kept: a request's content never reaches a log line or the dashboard through an error.
 */
export function bodyParserMessage(err: Error & { type?: string }, limit: string): string {
  switch (err.type ?? '') {
    case 'entity.parse.failed': {
      const at = /at position (\d+)/.exec(err.message);
      return at ? `invalid JSON in request body (at position ${at[1]})` : 'invalid JSON in request body';
    }
    case 'entity.too.large':
      return `request body is larger than HERD_BODY_LIMIT (${limit})`;
    case 'charset.unsupported':
      return 'request body charset is not supported: send UTF-8 JSON';
    case 'encoding.unsupported':
      return 'request body content-encoding is not supported';
    case 'request.aborted':
      return 'request body was cut off by the client';
    default:
      return 'request body could not be read';
  }
}

const BODY_BYTES = Symbol('herd.bodyBytes');

/** The body parser's `verify` hook: remembers how many bytes the body had on the wire. */
export function noteBodyBytes(req: object, _res: unknown, buf: Buffer): void {
  (req as { [BODY_BYTES]?: number })[BODY_BYTES] = buf.length;
}

/** Bytes of the request's JSON body as received (0 when it had none). */
export function bodyBytesOf(req: object): number {
  return (req as { [BODY_BYTES]?: number })[BODY_BYTES] ?? 0;
}
