import type { UsageRow } from './usage-rows';

export const USAGE_CSV_COLUMNS: readonly (keyof UsageRow)[] = ['day', 'tenant', 'requests', 'ok', 'error', 'canceled', 'rejected', 'promptTokens', 'outputTokens', 'queueWaitMsMean'];

/** One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break, quotes doubled; null is empty. */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The usage rows as CSV: a header row, then one line per row, CRLF line ends. */
export function usageCsv(rows: readonly UsageRow[]): string {
  const lines = [USAGE_CSV_COLUMNS.join(',')];
  for (const row of rows) lines.push(USAGE_CSV_COLUMNS.map((c) => csvField(row[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
