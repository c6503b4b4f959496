import { HerdError } from '../common/herd-error';
import { readBatchInput, type InputChecks } from './batch-input';

const checks: InputChecks = {
  endpoint: '/v1/chat/completions',
  maxLines: 5,
  readBody: (body) => {
    const model = (body as { model?: unknown }).model;
    if (typeof model !== 'string') throw HerdError.badRequest('model is required');
    return model;
  },
  modelKnown: (m) => m === 'llama3',
};

const line = (customId: unknown, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ custom_id: customId, method: 'POST', url: '/v1/chat/completions', body: { model: 'llama3', messages: [] }, ...extra });

async function refusal(text: string): Promise<string> {
  try {
    await readBatchInput(text, checks);
  } catch (err) {
    expect(err).toBeInstanceOf(HerdError);
    expect((err as HerdError).status).toBe(400);
    return (err as HerdError).message;
  }
  throw new Error('accepted');
}

describe('readBatchInput', () => {
  it('reads every request in order, skipping blank lines and CRLF endings', async () => {
    const lines = await readBatchInput(`${line('a')}\r\n\n   \n${line('b')}\n`, checks);
    expect(lines.map((l) => [l.index, l.customId, l.model])).toEqual([
      [0, 'a', 'llama3'],
      [1, 'b', 'llama3'],
    ]);
  });

  it('keeps a __proto__ custom_id as a plain string', async () => {
    const lines = await readBatchInput([line('__proto__'), line('constructor')].join('\n'), checks);
    expect(lines.map((l) => l.customId)).toEqual(['__proto__', 'constructor']);
  });

  it.each([
    ['bad JSON', `${line('a')}\n{"custom_id":`, /line 2: not valid JSON/],
    ['a JSON string', '"hello"', /line 1: must be a JSON object/],
    ['null', 'null', /line 1: must be a JSON object/],
    ['duplicate custom_id', [line('a'), line('b'), line('a')].join('\n'), /line 3: custom_id "a" was already used on line 1/],
    ['numeric custom_id', line(1), /line 1: custom_id must be a string/],
    ['empty custom_id', line(''), /line 1: custom_id must be a string/],
    ['huge custom_id', line('x'.repeat(300)), /line 1: custom_id must be a string of 1 to 256/],
    ['GET', line('a', { method: 'GET' }), /line 1: method must be "POST", got "GET"/],
    ['wrong url', line('a', { url: '/v1/embeddings' }), /line 1: url must be the batch's endpoint "\/v1\/chat\/completions", got "\/v1\/embeddings"/],
    ['array body', line('a', { body: [] }), /line 1: body must be a JSON object/],
    ['body refused', line('a', { body: { messages: [] } }), /line 1: body: model is required/],
    ['unknown model', line('a', { body: { model: 'nope' } }), /line 1: model "nope" not found/],
    ['prototype key', '{"custom_id":"a","__proto__":{"x":1}}', /line 1: .*"__proto__"/],
    ['deep nesting', line('a', { body: { model: 'llama3', x: JSON.parse('['.repeat(80) + ']'.repeat(80)) as unknown } }), /line 1: the line nests deeper/],
    ['too many lines', Array.from({ length: 6 }, (_, i) => line(`c${i}`)).join('\n'), /more than 5 requests/],
    ['nothing', '\n \n', /no requests/],
    ['binary garbage', '\u0000\u0001\ufffd\n', /line 1: not valid JSON/],
  ])('refuses %s, naming the line', async (_name, text, message) => {
    expect(await refusal(text)).toMatch(message);
  });

  it('asks the fleet once per model', async () => {
    const asked: string[] = [];
    await readBatchInput([line('a'), line('b'), line('c')].join('\n'), { ...checks, modelKnown: (m) => (asked.push(m), true) });
    expect(asked).toEqual(['llama3']);
  });
});
