import { Injectable } from '@nestjs/common';
import { HerdError } from '../common/herd-error';
import { hashApiKey, isKeyId, keyView, newApiKey, newKeyId, type ApiKeyChanges, type ApiKeyRecord, type ApiKeyView, type NewApiKey } from './api-key';
import { ApiKeyRepository } from './api-key.repository';
import { KeyLookup } from './key-lookup';

/**
 * The admin side of API keys: create (the only time the plain key is seen), list, read, change, revoke. Every
 * write is announced to all replicas (ApiKeyRepository), and this replica forgets its cached look-ups at once.
 */
@Injectable()
export class ApiKeysService {
  constructor(
    private readonly repo: ApiKeyRepository,
    private readonly lookup: KeyLookup,
  ) {}

  async create(input: NewApiKey): Promise<ApiKeyView & { key: string }> {
    const now = Date.now();
    const record: ApiKeyRecord = {
      id: newKeyId(),
      tenant: input.tenant,
      ...(input.name !== undefined ? { name: input.name } : {}),
      weight: input.weight ?? 1,
      priorityFloor: input.priorityFloor ?? 1,
      ...(input.models !== undefined ? { models: input.models } : {}),
      ...(input.rpm !== undefined ? { rpm: input.rpm } : {}),
      ...(input.tpm !== undefined ? { tpm: input.tpm } : {}),
      ...(input.expiresAt !== undefined ? { expiresAt: futureTime(input.expiresAt, now) } : {}),
      createdAt: new Date(now).toISOString(),
    };
    const key = newApiKey();
    await this.repo.insert(record, hashApiKey(key));
    this.lookup.forget();
    return { ...keyView(record, now), key };
  }

  async list(): Promise<ApiKeyView[]> {
    const now = Date.now();
    return (await this.repo.list()).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id)).map((r) => keyView(r, now));
  }

  async get(id: string): Promise<ApiKeyView> {
    return keyView(await this.record(id), Date.now());
  }

  async change(id: string, changes: ApiKeyChanges): Promise<ApiKeyView> {
    const now = Date.now();
    const current = await this.record(id);
    if (current.revokedAt !== undefined) throw revoked(id);
    const next: Record<string, unknown> = { ...current };
    for (const [field, value] of Object.entries(changes)) {
      if (value === undefined) continue;
      if (value === null) delete next[field];
      else next[field] = field === 'expiresAt' ? futureTime(value as string, now) : value;
    }
    const record = next as unknown as ApiKeyRecord;
    const result = await this.repo.update(record);
    if (result === 'missing') throw notFound(id);
    if (result === 'revoked') throw revoked(id);
    this.lookup.forget();
    return keyView(record, now);
  }

  /** Revokes the key for good (idempotent): every replica refuses it within a second. */
  async revoke(id: string): Promise<ApiKeyView> {
    const current = await this.record(id);
    if (current.revokedAt !== undefined) return keyView(current, Date.now());
    const record: ApiKeyRecord = { ...current, revokedAt: new Date().toISOString() };
    await this.repo.saveRevoked(record);
    this.lookup.forget();
    return keyView(record, Date.now());
  }

  private async record(id: string): Promise<ApiKeyRecord> {
    const record = isKeyId(id) ? await this.repo.get(id) : undefined;
    if (!record) throw notFound(id);
    return record;
  }
}

/** An expiry as stored (ISO, UTC); one already past is refused, it would make a dead key. */
function futureTime(iso: string, now: number): string {
  const at = Date.parse(iso);
  if (!Number.isFinite(at)) throw HerdError.badRequest('expiresAt must be an ISO 8601 date-time');
  if (at <= now) throw HerdError.badRequest('expiresAt must be in the future');
  return new Date(at).toISOString();
}

function notFound(id: string): HerdError {
  return new HerdError(404, 'HERD_NOT_FOUND', `herd: no API key with id "${id.slice(0, 64)}"`);
}

function revoked(id: string): HerdError {
  return new HerdError(409, 'HERD_CONFLICT', `herd: API key ${id} is revoked and cannot be changed`);
}
