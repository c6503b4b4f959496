import { drawOutputTokens, MEDIAN_OUTPUT_TOKENS, resolveOutputLength } from './output-length';

describe('output length', () => {
  const draws = Array.from({ length: 2000 }, (_, i) => drawOutputTokens(`llama3:latest\nprompt number ${i}`));

  it('is reproducible for the same key', () => {
    expect(drawOutputTokens('llama3:latest\nhello')).toBe(drawOutputTokens('llama3:latest\nhello'));
  });

  it('is right-skewed with a median near 100 tokens', () => {
    const sorted = [...draws].sort((a, b) => a - b);
    const median = sorted[sorted.length / 2];
    const mean = draws.reduce((s, v) => s + v, 0) / draws.length;
    expect(median).toBeGreaterThan(MEDIAN_OUTPUT_TOKENS * 0.8);
    expect(median).toBeLessThan(MEDIAN_OUTPUT_TOKENS * 1.25);
    expect(mean).toBeGreaterThan(median * 1.2);
    expect(sorted[Math.floor(sorted.length * 0.99)]).toBeGreaterThan(400);
    expect(sorted[0]).toBeGreaterThanOrEqual(1);
  });

  it('uses num_predict exactly (done_reason length) and caps drawn lengths', () => {
    expect(resolveOutputLength(17, 'k', 1024)).toEqual({ tokens: 17, doneReason: 'length' });
    expect(resolveOutputLength(0, 'k', 1024)).toEqual({ tokens: 0, doneReason: 'length' });
    expect(resolveOutputLength(5000, 'k', 1024)).toEqual({ tokens: 5000, doneReason: 'length' });
    // -1 means "unlimited" in Ollama: fall back to the drawn length
    expect(resolveOutputLength(-1, 'k', 1024)).toEqual(resolveOutputLength(undefined, 'k', 1024));
    const longKey = draws.findIndex((d) => d > 300);
    const capped = resolveOutputLength(undefined, `llama3:latest\nprompt number ${longKey}`, 50);
    expect(capped).toEqual({ tokens: 50, doneReason: 'length' });
    const short = resolveOutputLength(undefined, `llama3:latest\nprompt number ${longKey}`, 100_000);
    expect(short.doneReason).toBe('stop');
    expect(short.tokens).toBe(draws[longKey]);
  });
});
