import { HerdError } from '../../common/herd-error';
import { keyChangesFrom, newKeyFrom } from './key.dto';

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HerdError);
    expect((err as HerdError).status).toBe(400);
    return (err as HerdError).message;
  }
  throw new Error('expected a 400');
}

describe('POST /herd/keys body', () => {
  it('takes a tenant and optional settings', () => {
    expect(newKeyFrom({ tenant: 'team-a' })).toEqual({ tenant: 'team-a' });
    const full = { tenant: 'team-a', name: 'ci', weight: 2.5, priorityFloor: 3, models: ['llama3*'], rpm: 10, tpm: 1000, expiresAt: '2999-01-01T00:00:00Z' };
    expect(newKeyFrom(full)).toEqual(full);
  });

  it.each([
    ['no tenant', {}, /tenant is required/],
    ['a tenant with a space', { tenant: 'a b' }, /tenant/],
    ['a tenant named __proto__', { tenant: '__proto__' }, /tenant/],
    ['a tenant as a number', { tenant: 5 }, /tenant/],
    ['weight 0', { tenant: 't', weight: 0 }, /weight/],
    ['weight as text', { tenant: 't', weight: '1' }, /weight/],
    ['a huge weight', { tenant: 't', weight: 1e308 }, /weight/],
    ['floor 0', { tenant: 't', priorityFloor: 0 }, /priorityFloor/],
    ['floor 2.5', { tenant: 't', priorityFloor: 2.5 }, /priorityFloor/],
    ['models as a string', { tenant: 't', models: 'llama3' }, /models/],
    ['an empty model list', { tenant: 't', models: [] }, /models must be an array of 1-100/],
    ['a model pattern with a space', { tenant: 't', models: ['llama 3'] }, /models/],
    ['a model pattern as a number', { tenant: 't', models: [3] }, /models/],
    ['too many model patterns', { tenant: 't', models: Array.from({ length: 101 }, (_, i) => `m${i}`) }, /models/],
    ['rpm 1.5', { tenant: 't', rpm: 1.5 }, /rpm/],
    ['a huge rpm', { tenant: 't', rpm: 1e20 }, /rpm/],
    ['a huge tpm', { tenant: 't', tpm: 2e9 }, /tpm/],
    ['an expiry that is no date', { tenant: 't', expiresAt: 'tomorrow' }, /expiresAt/],
    ['a name with a control character', { tenant: 't', name: 'a\u0000b' }, /name/],
    ['a misspelt field', { tenant: 't', rmp: 5 }, /unknown field "rmp"/],
    ['a body that is an array', [], /JSON object/],
  ])('refuses %s', (_what, body, message) => {
    expect(refusal(() => newKeyFrom(body))).toMatch(message);
  });

  it('refuses a body whose prototype was swapped', () => {
    const body = JSON.parse('{"tenant":"t","__proto__":{"weight":5}}') as unknown;
    expect(refusal(() => newKeyFrom(body))).toMatch(/__proto__/);
  });
});

describe('PATCH /herd/keys/:id body', () => {
  it('changes settings and removes limits with null', () => {
    expect(keyChangesFrom({ weight: 3, rpm: null, models: null, expiresAt: null })).toEqual({ weight: 3, rpm: null, models: null, expiresAt: null });
    expect(keyChangesFrom({})).toEqual({});
  });

  it('refuses to change the tenant, or to remove weight or floor', () => {
    expect(refusal(() => keyChangesFrom({ tenant: 'other' }))).toMatch(/unknown field "tenant"/);
    expect(refusal(() => keyChangesFrom({ weight: null }))).toMatch(/weight cannot be removed/);
    expect(refusal(() => keyChangesFrom({ priorityFloor: null }))).toMatch(/priorityFloor cannot be removed/);
    expect(refusal(() => keyChangesFrom({ priorityFloor: 42 }))).toMatch(/priorityFloor/);
  });
});
