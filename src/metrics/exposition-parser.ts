/**
 * A strict parser of the Prometheus text exposition format 0.0.4, used by the tests to read `GET /metrics`
 * the way Prometheus would, and to fail on anything Prometheus would reject or that is suspicious: bad names,
 * bad escapes, TYPE after samples, families split in two, duplicate series, histograms whose buckets are not
 * cumulative or do not end at +Inf = _count.
 */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** Full sample name, e.g. `herd_request_duration_seconds_bucket`. */
  name: string;
  labels: Record<string, string>;
  value: number;
  timestamp?: number;
}

export interface MetricFamily {
  name: string;
  type: MetricType;
  help?: string;
  samples: Sample[];
}

export class ExpositionError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

export function parseExposition(text: string): Map<string, MetricFamily> {
  return new Parser(text).parse();
}

class Parser {
  private readonly families = new Map<string, MetricFamily>();
  private readonly started = new Set<string>();
  private readonly typed = new Set<string>();
  private readonly closed = new Set<string>();
  private readonly seriesSeen = new Set<string>();
  private current?: string;
  private lineNo = 0;

  constructor(private readonly text: string) {}

  parse(): Map<string, MetricFamily> {
    if (this.text.length > 0 && !this.text.endsWith('\n')) throw new ExpositionError(0, 'the exposition must end with a line feed');
    const lines = this.text.split('\n');
    lines.pop();
    for (const line of lines) {
      this.lineNo++;
      if (line.includes('\r')) this.fail('carriage return in line');
      if (line.trim() === '') continue;
      if (line.startsWith('#')) this.metadata(line);
      else this.sample(line);
    }
    for (const f of this.families.values()) if (f.type === 'histogram') checkHistogram(f);
    return this.families;
  }

  private fail(message: string): never {
    throw new ExpositionError(this.lineNo, message);
  }

  private metadata(line: string): void {
    const m = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
    if (!m) return; // a plain comment
    const [, kind, name, rest = ''] = m;
    if (!METRIC_NAME.test(name)) this.fail(`invalid metric name ${JSON.stringify(name)}`);
    const family = this.enter(name);
    if (this.started.has(name)) this.fail(`${kind} for ${name} after its samples`);
    if (kind === 'HELP') {
      if (family.help !== undefined) this.fail(`second HELP for ${name}`);
      family.help = unescapeHelp(rest, (msg) => this.fail(msg));
      return;
    }
    const type = rest.trim() as MetricType;
    if (!TYPES.includes(type)) this.fail(`unknown type ${JSON.stringify(rest)} for ${name}`);
    if (this.typed.has(name)) this.fail(`second TYPE for ${name}`);
    this.typed.add(name);
    family.type = type;
  }

  /** Switches to the family `name`, which must not have been left before (families are contiguous). */
  private enter(name: string): MetricFamily {
    if (this.current !== name) {
      if (this.closed.has(name)) this.fail(`lines of ${name} are not contiguous`);
      if (this.current !== undefined) this.closed.add(this.current);
      this.current = name;
    }
    let f = this.families.get(name);
    if (!f) {
      f = { name, type: 'untyped', samples: [] };
      this.families.set(name, f);
    }
    return f;
  }

  private familyOf(sampleName: string): string {
    if (this.families.has(sampleName) && this.families.get(sampleName)!.type !== 'histogram') return sampleName;
    for (const suffix of ['_bucket', '_sum', '_count']) {
      if (!sampleName.endsWith(suffix)) continue;
      const base = sampleName.slice(0, -suffix.length);
      const t = this.families.get(base)?.type;
      if (t === 'histogram' || (t === 'summary' && suffix !== '_bucket')) return base;
    }
    return sampleName;
  }

  private sample(line: string): void {
    let i = 0;
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nameMatch) this.fail(`invalid sample line ${JSON.stringify(line)}`);
    const name = nameMatch[0];
    i = name.length;
    const labels: Record<string, string> = {};
    if (line[i] === '{') {
      i++;
      for (;;) {
        i = skipBlanks(line, i);
        if (line[i] === '}') {
          i++;
          break;
        }
        const ln = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
        if (!ln) this.fail(`invalid label name at column ${i + 1}`);
        const labelName = ln[0];
        if (!LABEL_NAME.test(labelName) || labelName.startsWith('__')) this.fail(`reserved or invalid label name ${labelName}`);
        if (labelName in labels) this.fail(`label ${labelName} repeated`);
        i = skipBlanks(line, i + labelName.length);
        if (line[i] !== '=') this.fail(`expected = after label ${labelName}`);
        i = skipBlanks(line, i + 1);
        if (line[i] !== '"') this.fail(`expected " to open the value of label ${labelName}`);
        i++;
        let value = '';
        for (;;) {
          const c = line[i];
          if (c === undefined) this.fail(`unterminated value of label ${labelName}`);
          if (c === '"') break;
          if (c === '\\') {
            const e = line[i + 1];
            if (e === '\\') value += '\\';
            else if (e === '"') value += '"';
            else if (e === 'n') value += '\n';
            else this.fail(`invalid escape \\${e ?? ''} in label ${labelName}`);
            i += 2;
            continue;
          }
          value += c;
          i++;
        }
        labels[labelName] = value;
        i = skipBlanks(line, i + 1);
        if (line[i] === ',') {
          i++;
          continue;
        }
        if (line[i] === '}') {
          i++;
          break;
        }
        this.fail(`expected , or } after the value of label ${labelName}`);
      }
    }
    const rest = line.slice(i);
    if (!/^[ \t]/.test(rest)) this.fail(`expected a blank before the value of ${name}`);
    const parts = rest.trim().split(/[ \t]+/);
    if (parts.length > 2) this.fail(`trailing text after the value of ${name}`);
    const value = parseValue(parts[0], (msg) => this.fail(msg));
    let timestamp: number | undefined;
    if (parts[1] !== undefined) {
      if (!/^-?\d+$/.test(parts[1])) this.fail(`invalid timestamp ${parts[1]}`);
      timestamp = Number(parts[1]);
    }

    const familyName = this.familyOf(name);
    const family = this.enter(familyName);
    this.started.add(familyName);
    const key = name + JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
    if (this.seriesSeen.has(key)) this.fail(`duplicate series ${name}${JSON.stringify(labels)}`);
    this.seriesSeen.add(key);
    if (family.type === 'counter' && (value < 0 || Number.isNaN(value))) this.fail(`counter ${name} is ${value}`);
    if (family.type === 'histogram') {
      if (name.endsWith('_bucket') && labels.le === undefined) this.fail(`bucket of ${familyName} without le`);
      if (!name.endsWith('_bucket') && labels.le !== undefined) this.fail(`le label on ${name}`);
    }
    family.samples.push({ name, labels, value, ...(timestamp !== undefined && { timestamp }) });
  }
}

function skipBlanks(s: string, i: number): number {
  while (s[i] === ' ' || s[i] === '\t') i++;
  return i;
}

function parseValue(raw: string, fail: (msg: string) => never): number {
  // Prometheus reads values with Go's ParseFloat: NaN and Inf in any case (prom-client writes "Nan").
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(raw);
  if (special) return special[2].toLowerCase() === 'nan' ? (special[1] ? fail(`invalid value ${raw}`) : NaN) : special[1] === '-' ? -Infinity : Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw)) fail(`invalid value ${JSON.stringify(raw)}`);
  return Number(raw);
}

function unescapeHelp(s: string, fail: (msg: string) => never): string {
  return s.replace(/\\(.?)/g, (_m, e: string) => {
    if (e === '\\') return '\\';
    if (e === 'n') return '\n';
    return fail(`invalid escape \\${e} in HELP`);
  });
}

/** Per series (labels without le): buckets ascending by le, cumulative, ending with +Inf equal to _count; _sum present. */
function checkHistogram(f: MetricFamily): void {
  const groups = new Map<string, { buckets: { le: number; value: number }[]; count?: number; sum?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : 1)));
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (s.name === `${f.name}_bucket`) g.buckets.push({ le: parseValue(le, (m) => fail(f, m)), value: s.value });
    else if (s.name === `${f.name}_count`) g.count = s.value;
    else if (s.name === `${f.name}_sum`) g.sum = s.value;
    else fail(f, `unexpected sample ${s.name}`);
  }
  for (const [key, g] of groups) {
    if (g.buckets.length === 0) fail(f, `series ${key} has no buckets`);
    for (let i = 1; i < g.buckets.length; i++) {
      if (!(g.buckets[i].le > g.buckets[i - 1].le)) fail(f, `series ${key}: le values not ascending`);
      if (g.buckets[i].value < g.buckets[i - 1].value) fail(f, `series ${key}: buckets not cumulative`);
    }
    const last = g.buckets[g.buckets.length - 1];
    if (last.le !== Infinity) fail(f, `series ${key} has no +Inf bucket`);
    if (g.count === undefined || g.sum === undefined) fail(f, `series ${key} lacks _count or _sum`);
    if (last.value !== g.count) fail(f, `series ${key}: +Inf bucket ${last.value} differs from _count ${g.count}`);
  }
}

function fail(f: MetricFamily, message: string): never {
  throw new ExpositionError(0, `histogram ${f.name}: ${message}`);
}

/** Samples of a family (or of one sample name) whose labels include `match`. */
export function samplesOf(families: Map<string, MetricFamily>, sampleName: string, match: Record<string, string> = {}): Sample[] {
  const out: Sample[] = [];
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== sampleName) continue;
      if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) out.push(s);
    }
  }
  return out;
}

/** Sum of the matching samples (0 when there are none). */
export function sumOf(families: Map<string, MetricFamily>, sampleName: string, match: Record<string, string> = {}): number {
  return samplesOf(families, sampleName, match).reduce((a, s) => a + s.value, 0);
}
