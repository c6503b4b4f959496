import { writeStdoutLine } from './stdout-lines';

export type LogFormat = 'json' | 'pretty';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/** Structured logs: one JSON object per line in production, a readable line in development. */
export class Logger {
  constructor(
    private readonly level: LogLevel = 'info',
    private readonly format: LogFormat = 'pretty',
    private readonly out: (line: string) => void = writeStdoutLine,
  ) {}

  private write(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (ORDER[level] > ORDER[this.level]) return;
    if (this.format === 'json') {
      const head = `{"time":"${new Date().toISOString()}","level":"${level}","msg":${JSON.stringify(msg)}`;
      // Same line as JSON.stringify({ time, level, msg, ...fields }), without copying the fields first; a field
      // named like the first three (which would replace them in place) takes the slow way.
      const rest = fields && !('time' in fields || 'level' in fields || 'msg' in fields) ? JSON.stringify(fields) : undefined;
      if (rest !== undefined) this.out(rest === '{}' ? `${head}}` : `${head},${rest.slice(1)}`);
      else this.out(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }));
      return;
    }
    const extra = fields
      ? ' ' + Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')
      : '';
    this.out(`${new Date().toISOString().slice(11, 23)} ${level.toUpperCase().padEnd(5)} ${msg}${extra}`);
  }

  error(msg: string, fields?: Record<string, unknown>): void {
    this.write('error', msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.write('warn', msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.write('info', msg, fields);
  }
  debug(msg: string, fields?: Record<string, unknown>): void {
    this.write('debug', msg, fields);
  }
}
