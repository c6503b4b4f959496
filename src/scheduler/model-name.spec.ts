import { completeModelName, findModel, normalizeModelName, sameModel, spellingForNode } from './model-name';

const HF = 'hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M';

describe('normalizeModelName', () => {
  it.each([
    ['llama3', 'llama3:latest'],
    ['llama3:latest', 'llama3:latest'],
    ['llama3:8b', 'llama3:8b'],
    ['  Llama3:8B ', 'llama3:8b'],
    ['library/llama3', 'llama3:latest'],
    ['registry.ollama.ai/library/llama3:latest', 'llama3:latest'],
    ['Registry.Ollama.AI/Library/Llama3', 'llama3:latest'],
    ['registry.ollama.ai/team/model', 'team/model:latest'],
    ['registry.ollama.ai/llama3', 'registry.ollama.ai/llama3:latest'],
    ['team/model', 'team/model:latest'],
    ['other.host/library/model', 'other.host/library/model:latest'],
    ['localhost:5000/team/model', 'localhost:5000/team/model:latest'],
    ['hf.co/org/repo:Q4_K_M', 'hf.co/org/repo:q4_k_m'],
    [HF, 'hf.co/bartowski/llama-3.2-1b-instruct-gguf:q4_k_m'],
    ['', ''],
  ])('%p -> %p', (input, expected) => {
    expect(normalizeModelName(input)).toBe(expected);
  });
});

describe('completeModelName', () => {
  it.each([
    ['llama3', 'llama3:latest'],
    [' TINYLLAMA ', 'TINYLLAMA:latest'],
    [HF, HF],
    ['localhost:5000/Team/Model', 'localhost:5000/Team/Model:latest'],
    ['', ''],
  ])('keeps the case: %p -> %p', (input, expected) => {
    expect(completeModelName(input)).toBe(expected);
  });
});

describe('sameModel', () => {
  it.each([
    ['llama3', 'llama3:latest', true],
    ['TINYLLAMA', 'tinyllama:latest', true],
    [HF, HF.toLowerCase(), true],
    [HF.toUpperCase(), HF, true],
    ['library/llama3', 'llama3:latest', true],
    ['llama3', 'llama3:8b', false],
    ['llama3', 'llama3.1', false],
    ['team/llama3', 'llama3', false],
  ])('%p and %p: %p', (a, b, same) => {
    expect(sameModel(a, b)).toBe(same);
    expect(sameModel(b, a)).toBe(same);
  });
});

describe('findModel', () => {
  const listed = [{ name: 'llama3:latest' }, { name: HF }, { name: 'qwen2.5:7b' }];

  it('finds the entry whatever the case or the missing tag', () => {
    expect(findModel(listed, 'LLAMA3')).toBe(listed[0]);
    expect(findModel(listed, 'hf.co/bartowski/llama-3.2-1b-instruct-gguf:q4_k_m')).toBe(listed[1]);
    expect(findModel(listed, 'Qwen2.5:7B')).toBe(listed[2]);
  });

  it('finds nothing for another tag or model', () => {
    expect(findModel(listed, 'qwen2.5')).toBeUndefined();
    expect(findModel(listed, 'mistral')).toBeUndefined();
    expect(findModel([], 'llama3')).toBeUndefined();
  });
});

describe('spellingForNode', () => {
  it('sends the node its own spelling when the client spelled it differently', () => {
    expect(spellingForNode('hf.co/bartowski/llama-3.2-1b-instruct-gguf:q4_k_m', HF)).toBe(HF);
    expect(spellingForNode('TINYLLAMA', 'tinyllama:latest')).toBe('tinyllama:latest');
    expect(spellingForNode('library/llama3', 'llama3:latest')).toBe('llama3:latest');
  });

  it('leaves the client’s body alone when the spelling is already the node’s', () => {
    expect(spellingForNode(HF, HF)).toBeUndefined();
    expect(spellingForNode('llama3', 'llama3:latest')).toBeUndefined();
    expect(spellingForNode(' llama3:latest ', 'llama3:latest')).toBeUndefined();
  });

  it('has nothing to say when the node does not list the model', () => {
    expect(spellingForNode('llama3', undefined)).toBeUndefined();
  });
});
