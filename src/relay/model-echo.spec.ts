import { ModelEcho } from './model-echo';

const NODE = 'hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M';
const CLIENT = 'hf.co/bartowski/llama-3.2-1b-instruct-gguf:q4_k_m';

function line(model: string, text: string, done = false): string {
  return `${JSON.stringify({ model, created_at: '2025-01-01T00:00:00Z', response: text, done })}\n`;
}

/** Feeds `text` cut at the given offsets and returns what the client would receive. */
function stream(echo: ModelEcho, text: string, cuts: number[]): string {
  const bytes = Buffer.from(text);
  const out: Buffer[] = [];
  let pos = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(echo.chunk(bytes.subarray(pos, cut)));
    pos = cut;
  }
  const rest = echo.end();
  if (rest) out.push(rest);
  return Buffer.concat(out).toString('utf8');
}

describe('ModelEcho', () => {
  it('names the client’s spelling in a whole answer', () => {
    const echo = new ModelEcho(NODE, CLIENT);
    expect(JSON.parse(echo.text(line(NODE, 'hi', true)))).toMatchObject({ model: CLIENT, response: 'hi' });
  });

  it('leaves an answer without the node’s spelling alone', () => {
    const echo = new ModelEcho(NODE, CLIENT);
    const body = '{"error":"something else"}';
    expect(echo.text(body)).toBe(body);
  });

  it('rewrites every NDJSON chunk, whole chunks or many lines per chunk', () => {
    const echo = new ModelEcho(NODE, CLIENT);
    const text = line(NODE, 'a') + line(NODE, 'b') + line(NODE, '', true);
    expect(stream(echo, text, [])).toBe(line(CLIENT, 'a') + line(CLIENT, 'b') + line(CLIENT, '', true));
  });

  it('rewrites a sequence split across chunks at any byte', () => {
    const text = line(NODE, 'first') + line(NODE, 'second', true);
    const expected = line(CLIENT, 'first') + line(CLIENT, 'second', true);
    for (let cut = 1; cut < text.length; cut++) {
      expect(stream(new ModelEcho(NODE, CLIENT), text, [cut])).toBe(expected);
    }
    expect(stream(new ModelEcho(NODE, CLIENT), text, [3, 9, 14, 30, 31, 32, 90])).toBe(expected);
  });

  it('rewrites OpenAI-style SSE events', () => {
    const event = (model: string) => `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","model":${JSON.stringify(model)},"choices":[]}\n\n`;
    const echo = new ModelEcho('tinyllama:latest', 'TINYLLAMA');
    expect(stream(echo, event('tinyllama:latest') + 'data: [DONE]\n\n', [20])).toBe(event('TINYLLAMA') + 'data: [DONE]\n\n');
  });

  it('never touches the generated text, even when it quotes the sequence', () => {
    const echo = new ModelEcho('tinyllama:latest', 'TINYLLAMA');
    const text = line('tinyllama:latest', '{"model":"tinyllama:latest"}');
    expect(JSON.parse(stream(echo, text, [])).response).toBe('{"model":"tinyllama:latest"}');
  });

  it('gives back a held tail that turned out not to be the sequence', () => {
    const echo = new ModelEcho(NODE, CLIENT);
    expect(echo.chunk(Buffer.from('{"x":1,"mod')).toString()).toBe('{"x":1,');
    expect(echo.chunk(Buffer.from('e":2}')).toString()).toBe('"mode":2}');
    expect(echo.chunk(Buffer.from('ends with "')).toString()).toBe('ends with ');
    expect(echo.end()?.toString()).toBe('"');
    expect(echo.end()).toBeUndefined();
  });
});
