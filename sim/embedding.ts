import { hash32, normalDraw, seededRandom } from './hash';

/** A deterministic unit vector (float32 precision) derived from the text. */
export function embedText(text: string, dims: number): number[] {
  const rnd = seededRandom(hash32(text, 0x0e1bed));
  const vec = new Array<number>(dims);
  let sumSquares = 0;
  for (let i = 0; i < dims; i++) {
    const v = normalDraw(rnd);
    vec[i] = v;
    sumSquares += v * v;
  }
  const norm = 1 / Math.max(Math.sqrt(sumSquares), 1e-12);
  for (let i = 0; i < dims; i++) vec[i] = Math.fround(vec[i] * norm);
  return vec;
}

/** Ollama's `dimensions`: keep the first n components and renormalise. */
export function truncateEmbedding(vec: number[], dims: number): number[] {
  if (dims <= 0 || dims >= vec.length) return vec;
  const cut = vec.slice(0, dims);
  let sumSquares = 0;
  for (const v of cut) sumSquares += v * v;
  const norm = 1 / Math.max(Math.sqrt(sumSquares), 1e-12);
  return cut.map((v) => Math.fround(v * norm));
}
