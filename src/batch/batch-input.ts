import { jsonBodyProblem } from '../admission/json-body-check';
import { HerdError } from '../common/herd-error';

/** The routes a batch may target, as OpenAI names them. */
export const BATCH_ENDPOINTS: readonly string[] = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'];

/** Longest custom_id accepted. */
export const MAX_CUSTOM_ID = 256;

/** One request of a batch input file, checked. */
export interface BatchLine {
  /** 0-based position among the file's requests (blank lines are not requests). */
  index: number;
  customId: string;
  body: Record<string, unknown>;
  /** The model the body names, as the route's reader read it. */
  model: string;
}

export interface InputChecks {
  /** The batch's endpoint: every line's `url` must be it. */
  endpoint: string;
  maxLines: number;
  /** The route's reader: the body's model, or a HerdError 400 for a body the route refuses. */
  readBody: (body: unknown) => string;
  /** Whether some node in the fleet has the model. */
  modelKnown: (model: string) => boolean;
  /** Called every few hundred lines, so a large file does not hold the event loop (resolve at once in tests). */
  pause?: () => Promise<void>;
}

const PAUSE_EVERY = 500;

/** A value from the file shown in a message: JSON, cut short, never the whole thing. */
function shown(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function refuse(lineNo: number, message: string): HerdError {
  return HerdError.badRequest(`batch input file, line ${lineNo}: ${message}`);
}

/**
 * Reads a batch input file (JSONL: one `{custom_id, method, url, body}` per line) and checks every request as the
 * batch will run it: valid JSON object, no prototype keys or absurd nesting, a unique string custom_id, method POST,
 * url equal to the batch's endpoint, a body the route accepts, a model the fleet has. The first problem is thrown as
 * a HerdError 400 naming the file's line (1-based); blank lines are skipped.
 */
export async function readBatchInput(text: string, checks: InputChecks): Promise<BatchLine[]> {
  const lines: BatchLine[] = [];
  const seen = new Map<string, number>();
  const models = new Map<string, boolean>();
  const raw = text.split('\n');
  for (let i = 0; i < raw.length; i++) {
    if (i > 0 && i % PAUSE_EVERY === 0 && checks.pause) await checks.pause();
    const source = raw[i].trim();
    if (source === '') continue;
    const lineNo = i + 1;
    if (lines.length >= checks.maxLines) throw HerdError.badRequest(`batch input file has more than ${checks.maxLines} requests (HERD_BATCH_MAX_LINES)`);
    const line = readLine(source, lineNo, checks, seen, models);
    lines.push({ ...line, index: lines.length });
    seen.set(line.customId, lineNo);
  }
  if (lines.length === 0) throw HerdError.badRequest('batch input file has no requests');
  return lines;
}

function readLine(source: string, lineNo: number, checks: InputChecks, seen: Map<string, number>, models: Map<string, boolean>): Omit<BatchLine, 'index'> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(source);
  } catch {
    throw refuse(lineNo, 'not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw refuse(lineNo, 'must be a JSON object {custom_id, method, url, body}');
  const problem = jsonBodyProblem(parsed);
  if (problem) throw refuse(lineNo, problem.replace(/^request body/, 'the line'));
  const { custom_id: customId, method, url, body } = parsed as Record<string, unknown>;
  if (typeof customId !== 'string' || customId.length === 0 || customId.length > MAX_CUSTOM_ID) throw refuse(lineNo, `custom_id must be a string of 1 to ${MAX_CUSTOM_ID} characters`);
  const first = seen.get(customId);
  if (first !== undefined) throw refuse(lineNo, `custom_id ${shown(customId)} was already used on line ${first}; custom_ids must be unique`);
  if (method !== 'POST') throw refuse(lineNo, `method must be "POST", got ${shown(method)}`);
  if (url !== checks.endpoint) throw refuse(lineNo, `url must be the batch's endpoint "${checks.endpoint}", got ${shown(url)}`);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw refuse(lineNo, 'body must be a JSON object');
  let model: string;
  try {
    model = checks.readBody(body);
  } catch (err) {
    throw refuse(lineNo, `body: ${err instanceof Error ? err.message : 'refused'}`);
  }
  let known = models.get(model);
  if (known === undefined) {
    known = checks.modelKnown(model);
    models.set(model, known);
  }
  if (!known) throw refuse(lineNo, `model ${shown(model)} not found on any node, try pulling it first`);
  return { customId, body: body as Record<string, unknown>, model };
}
