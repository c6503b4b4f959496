import { Injectable } from '@nestjs/common';
import { HerdError } from '../common/herd-error';
import type { ApiKeyRecord } from './api-key';
import { KeyLookup } from './key-lookup';
import { RateLimitRepository } from './rate-limit.repository';

/** Both limits count per minute: rpm requests, tpm prompt + output tokens of finished requests. */
export const RATE_WINDOW_MS = 60_000;

/** Whole seconds a client should wait before the window turns: never 0, a retry at once would fail again. */
export function retryAfterSeconds(msLeft: number): number {
  return Math.max(1, Math.ceil(msLeft / 1000));
}

/**
 * A key's rpm and tpm, counted in Redis so that every replica sees the same counts. A key without limits costs
 * nothing here; one with limits costs one round trip per request.
 */
@Injectable()
export class KeyRateLimits {
  constructor(
    private readonly repo: RateLimitRepository,
    private readonly lookup: KeyLookup,
  ) {}

  /** Counts the request, or throws 429 with Retry-After when the key is over either limit. */
  async take(key: ApiKeyRecord): Promise<void> {
    if (key.rpm === undefined && key.tpm === undefined) return;
    const verdict = await this.repo.take(key.id, { rpm: key.rpm, tpm: key.tpm }, RATE_WINDOW_MS);
    if (verdict.allowed) return;
    const wait = retryAfterSeconds(verdict.msLeft);
    const message =
      verdict.limit === 'rpm'
        ? `herd: rate limit reached: this API key may send ${key.rpm} requests per minute; retry in ${wait} s`
        : `herd: token limit reached: this API key may use ${key.tpm} tokens per minute; retry in ${wait} s`;
    throw HerdError.rateLimited(verdict.limit, message, wait);
  }

  /** Counts the tokens of a finished request against its key's tpm (keys known to have none are skipped). */
  async chargeTokens(keyId: string, tokens: number): Promise<void> {
    if (!(tokens > 0) || !this.lookup.tokenLimited(keyId)) return;
    await this.repo.charge(keyId, tokens, RATE_WINDOW_MS);
  }
}
