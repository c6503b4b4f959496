import { tokenCounts } from './token-counts';

describe('tokenCounts', () => {
  it('reads a native final chunk', () => {
    expect(tokenCounts({ done: true, prompt_eval_count: 12, eval_count: 30 })).toEqual({ prompt: 12, output: 30 });
    expect(tokenCounts({ prompt_eval_count: 1200, prompt_eval_cached_count: 1100, eval_count: 3 }).cached).toBe(1100);
  });
  it('reads an OpenAI usage block', () => {
    expect(tokenCounts({ usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 } })).toEqual({ prompt: 7, output: 3 });
    expect(tokenCounts({ usage: { prompt_tokens: 700, prompt_tokens_details: { cached_tokens: 650 } } }).cached).toBe(650);
  });
  it('leaves out what the answer does not carry or carries wrongly', () => {
    expect(tokenCounts({ prompt_eval_count: 5 })).toEqual({ prompt: 5, output: undefined, cached: undefined });
    expect(tokenCounts({ eval_count: -1, usage: 'x' })).toEqual({ prompt: undefined, output: undefined, cached: undefined });
    expect(tokenCounts(undefined)).toEqual({});
  });
});
