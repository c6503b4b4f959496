import { Module } from '@nestjs/common';
import { TenantAccessService } from './tenant-access.service';

/** Tenants: who a request is charged to, whether it may run, and at which weight and priority. */
@Module({
  providers: [TenantAccessService],
  exports: [TenantAccessService],
})
export class TenantsModule {}
