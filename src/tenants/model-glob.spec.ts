import { normalizeModelName } from '../scheduler/model-name';
import { globMatch, isModelPattern, modelAllowed } from './model-glob';

const allowed = (patterns: string[] | undefined, model: string): boolean => modelAllowed(patterns, normalizeModelName(model));

describe('model patterns of an API key', () => {
  it('allows every model without patterns', () => {
    expect(allowed(undefined, 'anything:7b')).toBe(true);
  });

  it('matches a wildcard over the normalised name, in any case', () => {
    expect(allowed(['llama3*'], 'llama3')).toBe(true);
    expect(allowed(['llama3*'], 'Llama3.1:8B')).toBe(true);
    expect(allowed(['LLAMA3*'], 'llama3:70b')).toBe(true);
    expect(allowed(['llama3*'], 'mistral')).toBe(false);
    expect(allowed(['llama3*'], 'codellama3')).toBe(false);
    expect(allowed(['*embed*'], 'nomic-embed-text')).toBe(true);
    expect(allowed(['qwen?:*'], 'qwen2:7b')).toBe(true);
    expect(allowed(['qwen?:*'], 'qwen25:7b')).toBe(false);
  });

  it('reads a pattern without a wildcard as a model name (tag latest, default namespace)', () => {
    expect(allowed(['llama3'], 'llama3:latest')).toBe(true);
    expect(allowed(['llama3'], 'registry.ollama.ai/library/Llama3')).toBe(true);
    expect(allowed(['library/llama3:latest'], 'llama3')).toBe(true);
    expect(allowed(['llama3'], 'llama3:8b')).toBe(false);
  });

  it('drops the default registry and namespace from a wildcard pattern as from names', () => {
    expect(allowed(['library/llama3*'], 'llama3')).toBe(true);
    expect(allowed(['registry.ollama.ai/library/llama3*'], 'llama3')).toBe(true);
    expect(allowed(['hf.co/bartowski/*'], 'hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M')).toBe(true);
  });

  it('is allowed when any pattern matches', () => {
    expect(allowed(['mistral*', 'llama3*'], 'llama3')).toBe(true);
  });

  it('treats regular-expression characters literally', () => {
    expect(allowed(['llama3.1*'], 'llama3x1')).toBe(false);
    expect(allowed(['llama3.1*'], 'llama3.1:8b')).toBe(true);
  });

  it('matches globs in linear-ish time, even on many stars', () => {
    const started = performance.now();
    expect(globMatch(`${'*a'.repeat(100)}b`, 'a'.repeat(200))).toBe(false);
    expect(performance.now() - started).toBeLessThan(200);
    expect(globMatch('*', '')).toBe(true);
    expect(globMatch('a*', 'a')).toBe(true);
    expect(globMatch('?', '')).toBe(false);
    expect(globMatch('a*b*c', 'axxbyyc')).toBe(true);
    expect(globMatch('a*b*c', 'axxbyy')).toBe(false);
  });

  it('accepts model-name characters and wildcards only', () => {
    expect(isModelPattern('hf.co/org/model-Q4_K_M:latest*?')).toBe(true);
    expect(isModelPattern('')).toBe(false);
    expect(isModelPattern('llama 3')).toBe(false);
    expect(isModelPattern('a'.repeat(201))).toBe(false);
  });
});
