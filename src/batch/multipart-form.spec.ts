import { formBoundary, parseMultipart } from './multipart-form';

const CRLF = '\r\n';

function form(boundary: string, parts: { headers: string[]; body: string | Buffer }[]): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(Buffer.from(`--${boundary}${CRLF}${p.headers.join(CRLF)}${CRLF}${CRLF}`));
    chunks.push(Buffer.isBuffer(p.body) ? p.body : Buffer.from(p.body));
    chunks.push(Buffer.from(CRLF));
  }
  chunks.push(Buffer.from(`--${boundary}--${CRLF}`));
  return Buffer.concat(chunks);
}

describe('formBoundary', () => {
  it.each([
    ['multipart/form-data; boundary=abc', 'abc'],
    ['Multipart/Form-Data; charset=utf-8; boundary="a b"', 'a b'],
    ['application/json', undefined],
    ['multipart/form-data', undefined],
    [undefined, undefined],
  ])('%p -> %p', (ct, b) => expect(formBoundary(ct)).toBe(b));
});

describe('parseMultipart', () => {
  it('reads fields and files, binary bytes intact', async () => {
    const bytes = Buffer.from([0, 255, 13, 10, 45, 45, 1]);
    const body = form('XyZ', [
      { headers: ['Content-Disposition: form-data; name="purpose"'], body: 'batch' },
      { headers: ['Content-Disposition: form-data; name="file"; filename="in \\"1\\".jsonl"', 'Content-Type: application/octet-stream'], body: bytes },
    ]);
    const parts = parseMultipart(body, 'XyZ');
    expect(parts.map((p) => [p.name, p.filename])).toEqual([
      ['purpose', undefined],
      ['file', 'in "1".jsonl'],
    ]);
    expect(parts[0].data.toString()).toBe('batch');
    expect(parts[1].data.equals(bytes)).toBe(true);
  });

  it('reads what the openai client sends (undici FormData)', async () => {
    const fd = new FormData();
    fd.append('purpose', 'batch');
    fd.append('file', new Blob(['{"a":1}\n']), 'x.jsonl');
    const req = new Request('http://x/', { method: 'POST', body: fd });
    const boundary = formBoundary(req.headers.get('content-type') ?? undefined)!;
    const parts = parseMultipart(Buffer.from(await req.arrayBuffer()), boundary);
    expect(parts.find((p) => p.name === 'file')?.data.toString()).toBe('{"a":1}\n');
    expect(parts.find((p) => p.name === 'purpose')?.data.toString()).toBe('batch');
  });

  it.each([
    ['no boundary in the body', Buffer.from('hello'), /boundary not found/],
    ['no closing boundary', Buffer.from(`--B${CRLF}Content-Disposition: form-data; name="a"${CRLF}${CRLF}x`), /closing boundary/],
    ['no headers end', Buffer.from(`--B${CRLF}Content-Disposition: form-data; name="a"`), /headers/],
    ['a part without a name', form('B', [{ headers: ['Content-Type: text/plain'], body: 'x' }]), /no Content-Disposition/],
    ['a bad delimiter', Buffer.from('--Bxx'), /malformed delimiter/],
    ['too many parts', form('B', Array.from({ length: 20 }, () => ({ headers: ['Content-Disposition: form-data; name="a"'], body: 'x' }))), /more than 16 parts/],
  ])('refuses %s with a 400', (_name, body, message) => {
    expect(() => parseMultipart(body, 'B')).toThrow(message);
  });
});
