import { createHash } from 'node:crypto';
import { hashApiKey, isKeyId, keyStatus, keyView, looksLikeApiKey, newApiKey, newKeyId, parseStoredKey, type ApiKeyRecord } from './api-key';
import { retryAfterSeconds } from './key-rate-limits';

const record: ApiKeyRecord = { id: 'key_0123456789abcdef', tenant: 'team-a', weight: 2, priorityFloor: 3, models: ['llama3*'], rpm: 60, tpm: 10_000, createdAt: '2025-01-01T00:00:00.000Z' };

describe('API keys', () => {
  it('are herd_ and 32 random bytes in base64url, different every time', () => {
    const a = newApiKey();
    const b = newApiKey();
    expect(a).toMatch(/^herd_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a.slice(5), 'base64url')).toHaveLength(32);
    expect(a).not.toBe(b);
    expect(looksLikeApiKey(a)).toBe(true);
    expect(looksLikeApiKey('sk-123')).toBe(false);
    expect(looksLikeApiKey(`${a}x`)).toBe(false);
    expect(isKeyId(newKeyId())).toBe(true);
    expect(isKeyId('../x')).toBe(false);
  });

  it('are stored as their SHA-256, never as themselves', () => {
    const key = newApiKey();
    expect(hashApiKey(key)).toBe(createHash('sha256').update(key).digest('hex'));
    expect(hashApiKey(key)).not.toContain(key.slice(5));
  });

  it('are active, expired or revoked', () => {
    expect(keyStatus(record, Date.now())).toBe('active');
    expect(keyStatus({ ...record, expiresAt: '2025-06-01T00:00:00Z' }, Date.parse('2025-06-01T00:00:00Z'))).toBe('expired');
    expect(keyStatus({ ...record, expiresAt: '2025-06-01T00:00:00Z' }, Date.parse('2025-05-31T23:59:59Z'))).toBe('active');
    expect(keyStatus({ ...record, revokedAt: '2025-02-01T00:00:00Z' }, 0)).toBe('revoked');
    expect(keyView(record, 0)).toEqual({ ...record, status: 'active' });
  });
});

describe('parseStoredKey', () => {
  it('reads back what was written', () => {
    expect(parseStoredKey(JSON.stringify(record))).toEqual(record);
    const minimal = { id: record.id, tenant: 't', weight: 1, priorityFloor: 1, createdAt: record.createdAt };
    expect(parseStoredKey(JSON.stringify(minimal))).toEqual(minimal);
  });

  it('keeps only the known fields', () => {
    expect(parseStoredKey(JSON.stringify({ ...record, extra: 'x' }))).toEqual(record);
  });

  it.each([
    ['not JSON', '{'],
    ['an array', '[]'],
    ['no id', JSON.stringify({ ...record, id: undefined })],
    ['a bad tenant', JSON.stringify({ ...record, tenant: 'a b' })],
    ['a tenant named __proto__', JSON.stringify({ ...record, tenant: '__proto__' })],
    ['weight 0', JSON.stringify({ ...record, weight: 0 })],
    ['weight too big', JSON.stringify({ ...record, weight: 1e9 })],
    ['floor 11', JSON.stringify({ ...record, priorityFloor: 11 })],
    ['floor 1.5', JSON.stringify({ ...record, priorityFloor: 1.5 })],
    ['models not strings', JSON.stringify({ ...record, models: [1] })],
    ['rpm 0', JSON.stringify({ ...record, rpm: 0 })],
    ['tpm as text', JSON.stringify({ ...record, tpm: '5' })],
    ['a bad expiry', JSON.stringify({ ...record, expiresAt: 'soon' })],
    ['no creation time', JSON.stringify({ ...record, createdAt: undefined })],
  ])('refuses a record with %s', (_what, raw) => {
    expect(parseStoredKey(raw)).toBeUndefined();
  });

  it('reads nothing as no key', () => {
    expect(parseStoredKey(null)).toBeUndefined();
    expect(parseStoredKey('')).toBeUndefined();
  });
});

describe('retryAfterSeconds', () => {
  it('rounds the rest of the window up, never to 0', () => {
    expect(retryAfterSeconds(59_001)).toBe(60);
    expect(retryAfterSeconds(1000)).toBe(1);
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(0)).toBe(1);
  });
});
