import { tokenCounts } from './token-counts';

describe('tokenCounts', () => {
  it('reads a native final chunk', () => {
    expect(tokenCounts({ done: true, prompt_eval_count: 12, eval_count: 30 })).toEqual({ prompt: 12, output: 30 });
  });
  it('reads an OpenAI usage block', () => {
    expect(tokenCounts({ usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 } })).toEqual({ prompt: 7, output: 3 });
  });
  it('leaves out what the answer does not carry or carries wrongly', () => {
    expect(tokenCounts({ prompt_eval_count: 5 })).toEqual({ prompt: 5, output: undefined });
    expect(tokenCounts({ eval_count: -1, usage: 'x' })).toEqual({ prompt: undefined, output: undefined });
    expect(tokenCounts(undefined)).toEqual({});
  });
});
