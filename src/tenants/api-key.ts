import { createHash, randomBytes } from 'node:crypto';
import { isTenantName } from './caller';
import { isModelPattern } from './model-glob';

/** One API key as Redis keeps it: everything but the key itself (only its hash, in a separate index). */
export interface ApiKeyRecord {
  id: string;
  tenant: string;
  /** A label for people ("ci", "alice's laptop"); never used to decide anything. */
  name?: string;
  /** Share of the herd relative to other tenants' keys (fair share inside a priority level). */
  weight: number;
  /** The best (smallest) priority this key may run at; better ones are clamped to it. */
  priorityFloor: number;
  /** Glob patterns (`*`, `?`) over normalised model names; absent: every model. */
  models?: string[];
  /** Requests per minute; absent: unlimited. */
  rpm?: number;
  /** Prompt + output tokens per minute of finished requests; absent: unlimited. */
  tpm?: number;
  /** ISO time after which the key is refused. */
  expiresAt?: string;
  createdAt: string;
  revokedAt?: string;
}

export type ApiKeyStatus = 'active' | 'expired' | 'revoked';

/** What the admin routes show of a key: the record and its status, never the key or its hash. */
export interface ApiKeyView extends ApiKeyRecord {
  status: ApiKeyStatus;
}

/** What a new key is created with (defaults filled in by the service). */
export interface NewApiKey {
  tenant: string;
  name?: string;
  weight?: number;
  priorityFloor?: number;
  models?: string[];
  rpm?: number;
  tpm?: number;
  expiresAt?: string;
}

/** Fields a key may change after creation; `null` removes a limit (every model, no rpm, no expiry, ...). */
export interface ApiKeyChanges {
  name?: string | null;
  weight?: number;
  priorityFloor?: number;
  models?: string[] | null;
  rpm?: number | null;
  tpm?: number | null;
  expiresAt?: string | null;
}

export const KEY_PREFIX = 'herd_';
/** 32 random bytes: 256 bits, written as 43 base64url characters after the prefix. */
const KEY_BYTES = 32;
const KEY_FORMAT = /^herd_[A-Za-z0-9_-]{43}$/;
const ID_FORMAT = /^key_[0-9a-f]{16}$/;

export const WEIGHT_MIN = 0.01;
export const WEIGHT_MAX = 1000;
export const RPM_MAX = 1_000_000;
export const TPM_MAX = 1_000_000_000;

/** A fresh secret key: `herd_` + 32 random bytes in base64url. */
export function newApiKey(): string {
  return KEY_PREFIX + randomBytes(KEY_BYTES).toString('base64url');
}

export function newKeyId(): string {
  return `key_${randomBytes(8).toString('hex')}`;
}

/** Whether a credential can be a key Herd made: anything else is refused without asking Redis. */
export function looksLikeApiKey(credential: string): boolean {
  return KEY_FORMAT.test(credential);
}

export function isKeyId(id: string): boolean {
  return ID_FORMAT.test(id);
}

/**
 * What Redis stores instead of the key. A plain SHA-256 is enough here, unlike for passwords: the key is 256
 * random bits, so there is no dictionary to try and no salt needed against precomputed tables, and guessing a
 * preimage is out of reach. A deliberately slow hash (bcrypt, scrypt) would only cost CPU on every request.
 */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function keyStatus(record: ApiKeyRecord, now: number): ApiKeyStatus {
  if (record.revokedAt !== undefined) return 'revoked';
  if (record.expiresAt !== undefined && Date.parse(record.expiresAt) <= now) return 'expired';
  return 'active';
}

export function keyView(record: ApiKeyRecord, now: number): ApiKeyView {
  return { ...record, status: keyStatus(record, now) };
}

/**
 * A record read back from Redis, checked field by field; undefined when anything is off (a corrupt or
 * hand-edited entry is treated as no key at all rather than trusted half-way).
 */
export function parseStoredKey(raw: string | null | undefined): ApiKeyRecord | undefined {
  if (!raw) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.id !== 'string' || !isKeyId(o.id)) return undefined;
  if (typeof o.tenant !== 'string' || !isTenantName(o.tenant)) return undefined;
  if (!isNumberIn(o.weight, WEIGHT_MIN, WEIGHT_MAX)) return undefined;
  if (!Number.isInteger(o.priorityFloor) || !isNumberIn(o.priorityFloor, 1, 10)) return undefined;
  if (!isIsoTime(o.createdAt)) return undefined;
  if (o.name !== undefined && typeof o.name !== 'string') return undefined;
  if (o.models !== undefined && !(Array.isArray(o.models) && o.models.every((m) => typeof m === 'string' && isModelPattern(m)))) return undefined;
  if (o.rpm !== undefined && !(Number.isInteger(o.rpm) && isNumberIn(o.rpm, 1, RPM_MAX))) return undefined;
  if (o.tpm !== undefined && !(Number.isInteger(o.tpm) && isNumberIn(o.tpm, 1, TPM_MAX))) return undefined;
  if (o.expiresAt !== undefined && !isIsoTime(o.expiresAt)) return undefined;
  if (o.revokedAt !== undefined && !isIsoTime(o.revokedAt)) return undefined;
  return {
    id: o.id,
    tenant: o.tenant,
    ...(o.name !== undefined ? { name: o.name } : {}),
    weight: o.weight as number,
    priorityFloor: o.priorityFloor as number,
    ...(o.models !== undefined ? { models: o.models as string[] } : {}),
    ...(o.rpm !== undefined ? { rpm: o.rpm as number } : {}),
    ...(o.tpm !== undefined ? { tpm: o.tpm as number } : {}),
    ...(o.expiresAt !== undefined ? { expiresAt: o.expiresAt as string } : {}),
    createdAt: o.createdAt as string,
    ...(o.revokedAt !== undefined ? { revokedAt: o.revokedAt as string } : {}),
  };
}

function isNumberIn(v: unknown, min: number, max: number): boolean {
  return typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max;
}

function isIsoTime(v: unknown): boolean {
  return typeof v === 'string' && Number.isFinite(Date.parse(v));
}
