import { Module } from '@nestjs/common';
import { BatchModule } from '../../batch/batch.module';
import { BatchesController } from './batches.controller';
import { FilesController } from './files.controller';
import { JobsController } from './jobs.controller';

/** HTTP for the Batch API (/v1/files, /v1/batches) and async jobs (/herd/jobs); re-exports BatchModule for HerdLifecycle. */
@Module({
  imports: [BatchModule],
  controllers: [FilesController, BatchesController, JobsController],
  exports: [BatchModule],
})
export class BatchApiModule {}
