import { isId, lineMember, newBatchId, newFileId, newJobId, outputFileIds, parseLineMember } from './batch-ids';

describe('batch ids', () => {
  it('makes ids it recognises, and recognises nothing else', () => {
    expect(isId('batch', newBatchId())).toBe(true);
    expect(isId('file', newFileId())).toBe(true);
    expect(isId('job', newJobId())).toBe(true);
    const { output, errors } = outputFileIds(newBatchId());
    expect(isId('file', output) && isId('file', errors)).toBe(true);
    for (const bad of ['', 'batch_', '../batch_0', 'file-x', `${newBatchId()}:1`, 42, undefined, '__proto__']) expect(isId('batch', bad) || isId('file', bad) || isId('job', bad)).toBe(false);
  });

  it('names a line in the work queue so members sort by line, and reads it back', () => {
    const id = newBatchId();
    const members = [0, 2, 10, 100].map((i) => lineMember(id, i));
    expect([...members].sort()).toEqual(members);
    expect(parseLineMember(members[2])).toEqual({ batchId: id, index: 10 });
    expect(parseLineMember('job_0123')).toBeUndefined();
    expect(parseLineMember('nope:1')).toBeUndefined();
  });
});
