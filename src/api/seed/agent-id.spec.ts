import { agentIdFor } from './agent-id';

describe('agentIdFor', () => {
  it('gives a version 5 UUID that depends only on the machine name', () => {
    const id = agentIdFor('gpu-box-1');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(agentIdFor('gpu-box-1')).toBe(id);
    expect(agentIdFor('gpu-box-2')).not.toBe(id);
  });
});
