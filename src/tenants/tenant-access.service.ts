import { Injectable } from '@nestjs/common';
import { HerdError } from '../common/herd-error';
import { isTenantName, SHARED_TENANT, type Caller, type CallerClaims } from './caller';

/**
 * Step 0 of admission: who is calling. With keys off (HERD_AUTH=off, the default) every request is let in;
 * its tenant is the X-Herd-Tenant header when present (so a trusted team still gets fair share), else the
 * shared tenant, always with weight 1.
 */
@Injectable()
export class TenantAccessService {
  async identify(claims: CallerClaims): Promise<Caller> {
    return { tenant: this.headerTenant(claims.tenantHeader), weight: 1, priority: claims.priority, headers: {} };
  }

  private headerTenant(header: string | undefined): string {
    if (header === undefined || header === '') return SHARED_TENANT;
    if (!isTenantName(header)) throw HerdError.badRequest('X-Herd-Tenant must be 1-64 letters, digits, _ . @ : or -, starting with a letter or digit');
    return header;
  }
}
