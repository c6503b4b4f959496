import { Module } from '@nestjs/common';
import { ApiKeyRepository } from './api-key.repository';
import { ApiKeysService } from './api-keys.service';
import { KeyLookup } from './key-lookup';
import { KeyRateLimits } from './key-rate-limits';
import { RateLimitRepository } from './rate-limit.repository';
import { TenantAccessService } from './tenant-access.service';

/** Tenants: who a request is charged to, whether it may run, and at which weight and priority; the API keys behind it. */
@Module({
  providers: [TenantAccessService, ApiKeysService, ApiKeyRepository, KeyLookup, KeyRateLimits, RateLimitRepository],
  exports: [TenantAccessService, ApiKeysService, KeyRateLimits],
})
export class TenantsModule {}
