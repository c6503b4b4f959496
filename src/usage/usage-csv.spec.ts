import { csvField, usageCsv } from './usage-csv';
import type { UsageRow } from './usage-rows';

const row = (extra: Partial<UsageRow> = {}): UsageRow => ({
  day: '2025-03-10',
  tenant: 'team-a',
  requests: 3,
  ok: 2,
  error: 0,
  canceled: 0,
  rejected: 1,
  promptTokens: 40,
  outputTokens: 12,
  queueWaitMsMean: 7.5,
  ...extra,
});

describe('usage CSV', () => {
  it('quotes only fields that need it, doubling quotes', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField(12)).toBe('12');
    expect(csvField(null)).toBe('');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\r')).toBe('"cr\r"');
  });

  it('writes a header row and one CRLF line per row, a missing mean as an empty field', () => {
    expect(usageCsv([row(), row({ tenant: '(unknown)', requests: 1, ok: 0, promptTokens: 0, outputTokens: 0, queueWaitMsMean: null })])).toBe(
      'day,tenant,requests,ok,error,canceled,rejected,promptTokens,outputTokens,queueWaitMsMean\r\n' + '2025-03-10,team-a,3,2,0,0,1,40,12,7.5\r\n' + '2025-03-10,(unknown),1,0,0,0,1,0,0,\r\n',
    );
  });

  it('is just the header when there is no usage', () => {
    expect(usageCsv([])).toBe('day,tenant,requests,ok,error,canceled,rejected,promptTokens,outputTokens,queueWaitMsMean\r\n');
  });
});
