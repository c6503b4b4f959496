/**
 * Lines of a batch's output and error files, in OpenAI's format: `{id, custom_id, response, error}`. As OpenAI does,
 * a node's answer with a 2xx status goes to the output file, any other answer to the error file (its response kept,
 * `error` null), and a request Herd could not get answered goes to the error file with `response: null` and
 * `error: {code, message}`.
 */

/** Which file a result belongs to: `o` output, `e` errors (the first character of a stored result). */
export type ResultKind = 'o' | 'e';

export interface StoredResult {
  kind: ResultKind;
  /** The line, serialised. */
  json: string;
}

export interface NodeAnswer {
  status: number;
  body: unknown;
  requestId: string;
}

export function answerResult(lineId: string, customId: string, answer: NodeAnswer): StoredResult {
  const line = { id: lineId, custom_id: customId, response: { status_code: answer.status, request_id: answer.requestId, body: answer.body }, error: null };
  return { kind: answer.status >= 200 && answer.status < 300 ? 'o' : 'e', json: JSON.stringify(line) };
}

export function failureResult(lineId: string, customId: string, code: string, message: string): StoredResult {
  return { kind: 'e', json: JSON.stringify({ id: lineId, custom_id: customId, response: null, error: { code, message } }) };
}

/** How a result is kept in Redis: its kind, then its JSON. */
export function storedForm(result: StoredResult): string {
  return result.kind + result.json;
}

export interface AssembledFiles {
  /** JSONL, in input line order; '' when empty. */
  output: string;
  errors: string;
  completed: number;
  failed: number;
}

/**
 * The output and error files of a closed batch, from its stored results (line index -> stored form), in input line
 * order. `missing` gives the result of a line that has none (an expired batch's unfinished lines); absent: such
 * lines appear in neither file.
 */
export function assembleFiles(results: Record<string, string>, total: number, missing?: (index: number) => StoredResult | undefined): AssembledFiles {
  const out: string[] = [];
  const errs: string[] = [];
  for (let i = 0; i < total; i++) {
    const stored = Object.prototype.hasOwnProperty.call(results, String(i)) ? results[String(i)] : undefined;
    const result: StoredResult | undefined = stored !== undefined && stored.length > 1 ? { kind: stored[0] === 'o' ? 'o' : 'e', json: stored.slice(1) } : missing?.(i);
    if (!result) continue;
    (result.kind === 'o' ? out : errs).push(result.json);
  }
  const jsonl = (lines: string[]): string => (lines.length ? `${lines.join('\n')}\n` : '');
  return { output: jsonl(out), errors: jsonl(errs), completed: out.length, failed: errs.length };
}
