import { bodyParserMessage, jsonBodyProblem } from './json-body-check';

describe('jsonBodyProblem', () => {
  it('accepts ordinary bodies, including keys that only look similar', () => {
    expect(jsonBodyProblem({ model: 'm', prompt: 'x', options: { num_predict: 3, stop: ['a'] }, proto: 1, Constructor: 2 })).toBeUndefined();
    expect(jsonBodyProblem({ messages: [{ role: 'user', content: '__proto__ constructor prototype' }] })).toBeUndefined();
    expect(jsonBodyProblem('just a string')).toBeUndefined();
    expect(jsonBodyProblem(null)).toBeUndefined();
  });

  it.each(['__proto__', 'constructor', 'prototype'])('refuses the key %s at the top and at any depth, naming where', (key) => {
    expect(jsonBodyProblem(JSON.parse(`{"${key}":{},"model":"m"}`))).toBe(`request body must not contain the key "${key}" (at ${key})`);
    expect(jsonBodyProblem(JSON.parse(`{"model":"m","options":{"${key}":{"x":1}}}`))).toContain(`(at options.${key})`);
    expect(jsonBodyProblem(JSON.parse(`{"messages":[{"role":"user"},{"role":"user","${key}":1}]}`))).toContain(`(at messages[1].${key})`);
    expect(jsonBodyProblem(JSON.parse(`[[[{"a":{"${key}":null}}]]]`))).toContain(`(at [0][0][0].a.${key})`);
  });

  it('never echoes unusual key names from the body', () => {
    const problem = jsonBodyProblem(JSON.parse('{"<script>":{"__proto__":1}}'));
    expect(problem).toContain('(at ?.__proto__)');
    expect(problem).not.toContain('<script>');
  });

  it('refuses nesting deeper than the limit without overflowing the stack', () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) as unknown;
    expect(jsonBodyProblem(deep)).toBe('request body nests deeper than 64 levels');
    expect(jsonBodyProblem(JSON.parse(`${'{"a":'.repeat(64)}1${'}'.repeat(64)}`))).toBeUndefined();
    expect(jsonBodyProblem(JSON.parse(`${'{"a":'.repeat(65)}1${'}'.repeat(65)}`))).toBe('request body nests deeper than 64 levels');
  });
});

describe('bodyParserMessage', () => {
  it('keeps the position of a JSON error and drops the quoted body', () => {
    let err: Error & { type?: string };
    try {
      JSON.parse('{"prompt": "my secret" x}');
      throw new Error('unreachable');
    } catch (e) {
      err = Object.assign(e as Error, { type: 'entity.parse.failed' });
    }
    const message = bodyParserMessage(err, '50mb');
    expect(message).toMatch(/^invalid JSON in request body/);
    expect(message).not.toContain('secret');
  });

  it('names the limit for a body that is too large, and says something plain for the rest', () => {
    expect(bodyParserMessage(Object.assign(new Error('x'), { type: 'entity.too.large' }), '10mb')).toBe('request body is larger than HERD_BODY_LIMIT (10mb)');
    expect(bodyParserMessage(new Error('raw detail from somewhere'), '10mb')).toBe('request body could not be read');
  });
});
