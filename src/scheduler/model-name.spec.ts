import { normalizeModelName } from './model-name';

describe('normalizeModelName', () => {
  it.each([
    ['llama3', 'llama3:latest'],
    ['llama3:latest', 'llama3:latest'],
    ['llama3:8b', 'llama3:8b'],
    ['  Llama3:8B ', 'llama3:8b'],
    ['library/llama3', 'library/llama3:latest'],
    ['localhost:5000/team/model', 'localhost:5000/team/model:latest'],
    ['hf.co/org/repo:Q4_K_M', 'hf.co/org/repo:q4_k_m'],
    ['', ''],
  ])('%p -> %p', (input, expected) => {
    expect(normalizeModelName(input)).toBe(expected);
  });
});
