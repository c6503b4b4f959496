import { answerResult, assembleFiles, failureResult, storedForm } from './result-lines';

describe('result lines', () => {
  it('puts a 2xx answer in the output file and any other answer in the error file, response kept', () => {
    const ok = answerResult('batch_req_1', 'a', { status: 200, body: { x: 1 }, requestId: 'r1' });
    expect(ok.kind).toBe('o');
    expect(JSON.parse(ok.json)).toEqual({ id: 'batch_req_1', custom_id: 'a', response: { status_code: 200, request_id: 'r1', body: { x: 1 } }, error: null });
    const bad = answerResult('batch_req_2', 'b', { status: 400, body: { error: 'nope' }, requestId: 'r2' });
    expect(bad.kind).toBe('e');
    expect(JSON.parse(bad.json).response.status_code).toBe(400);
  });

  it('writes a Herd failure with response null and error {code, message}', () => {
    const f = failureResult('batch_req_3', 'c', 'HERD_NO_NODE_FOR_MODEL', 'no node');
    expect(JSON.parse(f.json)).toEqual({ id: 'batch_req_3', custom_id: 'c', response: null, error: { code: 'HERD_NO_NODE_FOR_MODEL', message: 'no node' } });
  });

  it('assembles both files in input line order, whatever order results came in', () => {
    const r = (i: number, status: number): string => storedForm(answerResult(`id${i}`, `c${i}`, { status, body: {}, requestId: `r${i}` }));
    const files = assembleFiles({ '3': r(3, 200), '0': r(0, 200), '2': r(2, 500), '1': r(1, 200) }, 4);
    expect(files.output.split('\n').filter(Boolean).map((l) => JSON.parse(l).custom_id)).toEqual(['c0', 'c1', 'c3']);
    expect(files.errors.split('\n').filter(Boolean).map((l) => JSON.parse(l).custom_id)).toEqual(['c2']);
    expect([files.completed, files.failed]).toEqual([3, 1]);
    expect(files.output.endsWith('\n')).toBe(true);
  });

  it('leaves lines without a result out, unless told what they are', () => {
    const r0 = storedForm(answerResult('id0', 'c0', { status: 200, body: {}, requestId: 'r' }));
    expect(assembleFiles({ '0': r0 }, 3)).toMatchObject({ completed: 1, failed: 0, errors: '' });
    const expired = assembleFiles({ '0': r0 }, 3, (i) => failureResult(`x${i}`, `c${i}`, 'batch_expired', 'late'));
    expect(expired.failed).toBe(2);
    expect(assembleFiles({}, 0)).toEqual({ output: '', errors: '', completed: 0, failed: 0 });
  });

  it('ignores prototype-named fields in the results hash', () => {
    const results = JSON.parse('{"__proto__":"ozzz"}') as Record<string, string>;
    expect(assembleFiles(results, 1)).toMatchObject({ completed: 0, failed: 0 });
  });
});
