import { badRequest } from './http-errors';
import { goTypeName } from './keep-alive';

/** Request bodies parsed with Go-like error messages, so a gateway sees what a real Ollama would say. */

export type JsonObject = Record<string, unknown>;

export function parseJsonObject(body: Buffer, goType: string): JsonObject {
  const text = body.toString('utf8');
  if (text.trim() === '') throw badRequest('missing request body');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw badRequest(describeJsonError(text, err));
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest(`json: cannot unmarshal ${goTypeName(value)} into Go value of type ${goType}`);
  }
  return value as JsonObject;
}

function describeJsonError(text: string, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/end of (JSON )?input|Unterminated/i.test(message)) return 'unexpected EOF';
  const token = /Unexpected token '?(.)/.exec(message);
  const pos = /position (\d+)/.exec(message);
  const index = pos ? Number(pos[1]) : text.search(/\S/);
  if (!token && index >= text.trimEnd().length) return 'unexpected EOF';
  const ch = token ? token[1] : index >= 0 && index < text.length ? text[index] : '?';
  return `invalid character '${ch}' looking for beginning of value`;
}

function typeError(struct: string, field: string, value: unknown, want: string): Error {
  return badRequest(`json: cannot unmarshal ${goTypeName(value)} into Go struct field ${struct}.${field} of type ${want}`);
}

export function optString(body: JsonObject, field: string, struct: string): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw typeError(struct, field, v, 'string');
  return v;
}

export function optBool(body: JsonObject, field: string, struct: string): boolean | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw typeError(struct, field, v, 'bool');
  return v;
}

export function optNumber(body: JsonObject, field: string, struct: string): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number') throw typeError(struct, field, v, 'int');
  return v;
}

export function optObject(body: JsonObject, field: string, struct: string): JsonObject | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw typeError(struct, field, v, 'map[string]interface {}');
  return v as JsonObject;
}

export function optArray(body: JsonObject, field: string, struct: string, want: string): unknown[] | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw typeError(struct, field, v, want);
  return v as unknown[];
}

/** options.num_predict when numeric. */
export function numPredictOf(options: JsonObject | undefined): number | undefined {
  const v = options?.num_predict;
  return typeof v === 'number' ? v : undefined;
}
