/** Outcome counts of a workload, the figures a fault test reports. */
export interface LoadCounts {
  sent: number;
  completed: number;
  /** Ended with a clear error: a 4xx/5xx with an {"error"} body, or a stream whose last line is {"error"}. */
  failedClear: number;
  /** The client's connection was cut (only acceptable when the replica it talked to was killed). */
  cut: number;
  /** No answer within the client's deadline: must always be zero. */
  lost: number;
  errors: string[];
}

export function emptyCounts(): LoadCounts {
  return { sent: 0, completed: 0, failedClear: 0, cut: 0, lost: 0, errors: [] };
}

export type Outcome = 'completed' | 'failedClear' | 'cut' | 'lost';

/** One request with a hard client deadline, classified. Streams count as completed only with a done:true last line. */
export async function classify(url: string, body: Record<string, unknown>, deadlineMs = 20_000): Promise<{ outcome: Outcome; node?: string; detail: string }> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), deadlineMs);
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: ac.signal });
    const text = await res.text();
    const node = res.headers.get('x-herd-node') ?? undefined;
    const lines = text.trim().split('\n');
    let last: Record<string, unknown> = {};
    try {
      last = JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
    } catch {
      return { outcome: 'cut', node, detail: `unparseable body (${res.status}): ${text.slice(0, 100)}` };
    }
    if (res.status === 200 && last.done === true) return { outcome: 'completed', node, detail: '' };
    if (typeof last.error === 'string') return { outcome: 'failedClear', node, detail: `${res.status} ${last.error}` };
    return { outcome: 'cut', node, detail: `${res.status} without done or error: ${text.slice(-100)}` };
  } catch (err) {
    if (ac.signal.aborted) return { outcome: 'lost', detail: `no answer within ${deadlineMs} ms` };
    return { outcome: 'cut', detail: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

export function tally(counts: LoadCounts, r: { outcome: Outcome; detail: string }): void {
  counts.sent++;
  counts[r.outcome]++;
  if (r.outcome !== 'completed' && counts.errors.length < 10) counts.errors.push(r.detail);
}

/** Sends `total` requests spread over `spanMs`, `concurrency` at a time; returns the counts. */
export async function steadyLoad(makeRequest: (i: number) => Promise<{ outcome: Outcome; detail: string }>, total: number, concurrency: number): Promise<LoadCounts> {
  const counts = emptyCounts();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        tally(counts, await makeRequest(i));
      }
    }),
  );
  return counts;
}

/** Collected by fault tests and printed once at the end: the table for the closing note. */
export const faultTable: { scenario: string; counts: LoadCounts }[] = [];

export function printFaultTable(): void {
  const rows = faultTable.map(({ scenario, counts: c }) => `| ${scenario} | ${c.sent} | ${c.completed} | ${c.failedClear} | ${c.cut} | ${c.lost} |`);
  process.stdout.write(['', '| scenario | sent | completed | failed (clear error) | cut | lost |', '|---|---|---|---|---|---|', ...rows, ''].join('\n') + '\n');
}
