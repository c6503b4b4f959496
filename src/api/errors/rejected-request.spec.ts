import type { Request } from 'express';
import { rejectedRequestRecord } from './rejected-request';

const req = (method: string, path: string) => ({ method, path }) as Request;

describe('rejectedRequestRecord', () => {
  it('records a refused inference request as rejected, with its status and error', () => {
    const r = rejectedRequestRecord(req('POST', '/v1/embeddings'), 400, 'HERD_BAD_REQUEST', 'input must be a string', 'r1');
    expect(r).toMatchObject({ route: '/v1/embeddings', model: '', outcome: 'rejected', status: 400, errorCode: 'HERD_BAD_REQUEST', errorMessage: 'input must be a string', replica: 'r1', retries: 0 });
  });

  it('knows a route written the way Express still matches it (any case, trailing slash)', () => {
    expect(rejectedRequestRecord(req('POST', '/API/Generate/'), 400, 'HERD_BAD_REQUEST', 'x', 'r1')).toMatchObject({ route: '/API/Generate/', outcome: 'rejected' });
  });

  it('ignores other routes, other methods and server errors', () => {
    expect(rejectedRequestRecord(req('POST', '/api/show'), 400, 'HERD_BAD_REQUEST', 'x', 'r1')).toBeUndefined();
    expect(rejectedRequestRecord(req('GET', '/api/generate'), 404, 'HERD_NOT_FOUND', 'x', 'r1')).toBeUndefined();
    expect(rejectedRequestRecord(req('POST', '/api/generate'), 500, 'HERD_INTERNAL', 'x', 'r1')).toBeUndefined();
  });
});
