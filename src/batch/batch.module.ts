import { Module } from '@nestjs/common';
import { FleetModule } from '../fleet/fleet.module';
import { InferenceModule } from '../inference/inference.module';
import { TenantsModule } from '../tenants/tenants.module';
import { BatchCallers } from './batch-callers';
import { BatchFilesService } from './batch-files.service';
import { BatchFinalizer } from './batch-finalizer';
import { BatchLineWorker } from './batch-line.worker';
import { BatchSweeper } from './batch-sweeper';
import { BatchRepository } from './batch.repository';
import { BatchService } from './batch.service';
import { JobRepository } from './job.repository';
import { JobWorker } from './job.worker';
import { JobsService } from './jobs.service';
import { WorkRepository } from './work.repository';
import { WorkRunners } from './work-runners';

/**
 * The OpenAI Batch API (files, batches) and async jobs: durable work in Redis, run by a runner on every replica
 * through the same pipeline as a client's request (DirectCall).
 */
@Module({
  imports: [InferenceModule, FleetModule, TenantsModule],
  providers: [
    BatchRepository,
    JobRepository,
    WorkRepository,
    BatchCallers,
    BatchFilesService,
    BatchFinalizer,
    BatchLineWorker,
    BatchSweeper,
    BatchService,
    JobWorker,
    JobsService,
    WorkRunners,
  ],
  exports: [BatchFilesService, BatchService, JobsService, BatchCallers, WorkRunners, WorkRepository],
})
export class BatchModule {}
