import { HerdError } from '../common/herd-error';

/** One part of a multipart/form-data body. */
export interface FormPart {
  name: string;
  /** Set for file parts. */
  filename?: string;
  data: Buffer;
}

const MAX_PARTS = 16;
const MAX_HEADER_BYTES = 8 * 1024;

/** The boundary of a multipart/form-data content type, or undefined when it is not one. */
export function formBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^\s*multipart\/form-data\s*(;|$)/i.test(contentType)) return undefined;
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : undefined;
}

function bad(message: string): HerdError {
  return HerdError.badRequest(`multipart form: ${message}`);
}

/** `name="x"` or `filename="x"` of a Content-Disposition header (quoted, with `\"` escapes, or a bare token). */
function dispositionParam(header: string, param: string): string | undefined {
  const m = new RegExp(`;\\s*${param}=(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]+))`, 'i').exec(header);
  if (!m) return undefined;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2];
}

/**
 * Splits a multipart/form-data body (RFC 7578) into its parts. Every malformed shape (no boundary, a part without
 * headers or a name, a missing closing delimiter, too many parts) is a HerdError 400; binary part bodies are kept
 * as bytes.
 */
export function parseMultipart(body: Buffer, boundary: string): FormPart[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const next = Buffer.from(`\r\n--${boundary}`);
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw bad('boundary not found in the body');
  pos += delimiter.length;
  const parts: FormPart[] = [];
  for (;;) {
    if (body.subarray(pos, pos + 2).toString('latin1') === '--') return parts;
    if (body.subarray(pos, pos + 2).toString('latin1') !== '\r\n') throw bad('malformed delimiter');
    pos += 2;
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    if (headerEnd < 0 || headerEnd - pos > MAX_HEADER_BYTES) throw bad('part headers are missing or too long');
    const headers = body.subarray(pos, headerEnd).toString('utf8').split('\r\n');
    const disposition = headers.find((h) => /^content-disposition\s*:/i.test(h));
    const name = disposition && /^content-disposition\s*:\s*form-data\b/i.test(disposition) ? dispositionParam(disposition, 'name') : undefined;
    if (name === undefined) throw bad('a part has no Content-Disposition: form-data name');
    const start = headerEnd + 4;
    const end = body.indexOf(next, start);
    if (end < 0) throw bad('closing boundary not found (body cut short?)');
    const filename = dispositionParam(disposition!, 'filename');
    parts.push({ name, ...(filename !== undefined ? { filename } : {}), data: body.subarray(start, end) });
    if (parts.length > MAX_PARTS) throw bad(`more than ${MAX_PARTS} parts`);
    pos = end + next.length;
  }
}
