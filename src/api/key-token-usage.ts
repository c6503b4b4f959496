import { Injectable, type OnModuleInit } from '@nestjs/common';
import { Logger } from '../common/logger';
import { RequestEvents, type RequestRecord } from '../inference/request-events';
import { KeyRateLimits } from '../tenants/key-rate-limits';

/** Tokens a finished request used on a node (prompt and output), counted against its key's tpm. */
export function servedTokens(record: RequestRecord): number {
  if (record.node === undefined) return 0;
  return (record.promptTokens ?? 0) + (record.evalCount ?? 0);
}

/**
 * Hands every finished request's tokens to its API key's tpm count. It lives here, where the request path
 * (src/inference) and tenants meet: src/tenants is imported by admission, so it cannot import the request
 * events itself.
 */
@Injectable()
export class KeyTokenUsage implements OnModuleInit {
  constructor(
    private readonly events: RequestEvents,
    private readonly limits: KeyRateLimits,
    private readonly log: Logger,
  ) {}

  onModuleInit(): void {
    this.events.on((record) => {
      if (record.keyId === undefined) return;
      this.limits.chargeTokens(record.keyId, servedTokens(record)).catch((err: unknown) => this.log.warn('could not count tokens against an API key', { keyId: record.keyId, error: (err as Error)?.message ?? String(err) }));
    });
  }
}
