import { Inject, Injectable } from '@nestjs/common';
import { HerdError } from '../common/herd-error';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { keyStatus, type ApiKeyRecord } from './api-key';
import { isTenantName, SHARED_TENANT, type Caller, type CallerClaims } from './caller';
import { KeyLookup } from './key-lookup';
import { KeyRateLimits } from './key-rate-limits';
import { modelAllowed } from './model-glob';

/** Response header of a request whose priority was raised to its key's floor: `<asked>-><floor>`, e.g. `1->3`. */
export const PRIORITY_CLAMPED_HEADER = 'X-Herd-Priority-Clamped';

/**
 * Step 0 of admission: who is calling, and may it.
 *
 * With keys off (HERD_AUTH=off, the default) every request is let in; its tenant is the X-Herd-Tenant header
 * when present (so a trusted team still gets fair share), else the shared tenant, always with weight 1.
 *
 * With HERD_AUTH=keys the request must carry an API key (`Authorization: Bearer`, or X-Api-Key): none, an
 * unknown, revoked or expired one → 401; a model outside the key's patterns → 403; a priority better than the
 * key's floor runs at the floor (and the answer says so in X-Herd-Priority-Clamped); over the key's rpm or tpm
 * → 429 with Retry-After. Tenant and weight are the key's; X-Herd-Tenant is ignored.
 */
@Injectable()
export class TenantAccessService {
  constructor(
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
    private readonly lookup: KeyLookup,
    private readonly limits: KeyRateLimits,
  ) {}

  async identify(claims: CallerClaims): Promise<Caller> {
    if (this.config.auth !== 'keys') return { tenant: this.headerTenant(claims.tenantHeader), weight: 1, priority: claims.priority, headers: {} };
    const key = await this.authenticate(claims.credential);
    if (!modelAllowed(key.models, claims.model)) throw new HerdError(403, 'HERD_MODEL_NOT_ALLOWED', `herd: this API key may not use model "${claims.model}"`);
    const priority = Math.max(claims.priority, key.priorityFloor);
    const headers: Record<string, string> = priority !== claims.priority ? { [PRIORITY_CLAMPED_HEADER]: `${claims.priority}->${priority}` } : {};
    await redisOr503(this.limits.take(key));
    return { tenant: key.tenant, weight: key.weight, priority, keyId: key.id, headers };
  }

  /** The active key behind a credential (with keys on), or a 401 saying why not; no model rule or rate limit. */
  async authenticate(credential: string | undefined): Promise<ApiKeyRecord> {
    if (credential === undefined) throw HerdError.invalidApiKey('herd: API key required: send Authorization: Bearer <key> (HERD_AUTH=keys)');
    const key = await redisOr503(this.lookup.find(credential));
    if (!key) throw HerdError.invalidApiKey('herd: invalid API key');
    switch (keyStatus(key, Date.now())) {
      case 'active':
        return key;
      case 'revoked':
        throw HerdError.invalidApiKey('herd: this API key was revoked');
      case 'expired':
        throw HerdError.invalidApiKey(`herd: this API key expired at ${key.expiresAt}`);
    }
  }

  private headerTenant(header: string | undefined): string {
    if (header === undefined || header === '') return SHARED_TENANT;
    if (!isTenantName(header)) throw HerdError.badRequest('X-Herd-Tenant must be 1-64 letters, digits, _ . @ : or -, starting with a letter or digit');
    return header;
  }
}

/** A Redis that does not answer becomes Herd's usual 503 with Retry-After, never a 500. */
async function redisOr503<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    throw err instanceof HerdError ? err : HerdError.redisDown();
  }
}
