import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { hashApiKey, looksLikeApiKey, type ApiKeyRecord } from './api-key';
import { ApiKeyRepository } from './api-key.repository';
import { KeyCache } from './key-cache';

/**
 * The longest a replica may act on a key record without reading it again: a lost invalidation costs this much.
 * Under 1 s with room for the request that reads the record again, so even then a revocation holds within 1 s.
 */
export const KEY_CACHE_TTL_MS = 800;
/** Look-ups remembered per replica (known keys and unknown ones alike). */
export const KEY_CACHE_MAX = 10_000;

/**
 * Finds the record of a presented key on the hot path without asking Redis each time. A change anywhere
 * (create, change, revoke) is published on the keys channel and clears every replica's cache at once; entries
 * also expire after KEY_CACHE_TTL_MS, so a replica that missed the message still sees the change within 1 s.
 */
@Injectable()
export class KeyLookup implements OnModuleInit {
  private readonly cache = new KeyCache<ApiKeyRecord>(KEY_CACHE_TTL_MS, KEY_CACHE_MAX);
  /** Look-ups under way, so a burst with one key costs one round trip. */
  private readonly pending = new Map<string, Promise<ApiKeyRecord | undefined>>();
  /** Recently seen keys by id, to know whether a finished request's tokens need counting (see tokenLimited). */
  private readonly byId = new Map<string, ApiKeyRecord>();

  constructor(
    private readonly repo: ApiKeyRepository,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.config.auth === 'keys') await this.repo.onChange(() => this.forget());
  }

  /** Drops every cached look-up (a key changed somewhere). */
  forget(): void {
    this.cache.clear();
    this.byId.clear();
    // A look-up under way may have read the record before the change: later callers must not join it.
    this.pending.clear();
  }

  /** The record of the key, or undefined for a credential that is no key Herd made. */
  async find(credential: string): Promise<ApiKeyRecord | undefined> {
    if (!looksLikeApiKey(credential)) return undefined;
    const hash = hashApiKey(credential);
    const cached = this.cache.get(hash, Date.now());
    if (cached !== undefined) return cached ?? undefined;
    const pending = this.pending.get(hash);
    if (pending) return pending;
    const generation = this.cache.generation;
    const lookup = this.repo.findByHash(hash).then((record) => {
      this.cache.set(hash, record ?? null, Date.now(), generation);
      if (record && generation === this.cache.generation) this.remember(record);
      return record;
    });
    this.pending.set(hash, lookup);
    try {
      return await lookup;
    } finally {
      if (this.pending.get(hash) === lookup) this.pending.delete(hash);
    }
  }

  /** Whether the key has a tpm limit; true when unknown here (its tokens are then counted to be safe). */
  tokenLimited(keyId: string): boolean {
    const record = this.byId.get(keyId);
    return record === undefined || record.tpm !== undefined;
  }

  private remember(record: ApiKeyRecord): void {
    this.byId.delete(record.id);
    if (this.byId.size >= KEY_CACHE_MAX) this.byId.delete(this.byId.keys().next().value as string);
    this.byId.set(record.id, record);
  }
}
