import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import { BatchCallers } from '../../batch/batch-callers';
import { JobsService, type JobStatus, type JobView } from '../../batch/jobs.service';
import { presented } from './presented';

/** Async jobs: POST an inference request, poll for its answer. Errors in Ollama's shape, like every /herd route. */
@Controller('herd/jobs')
export class JobsController {
  constructor(
    private readonly jobs: JobsService,
    private readonly callers: BatchCallers,
  ) {}

  @Post()
  @HttpCode(202)
  async submit(@Req() req: Request, @Body() body: unknown): Promise<{ id: string; status: JobStatus }> {
    return this.jobs.submit(presented(req), body);
  }

  @Get(':id')
  async get(@Req() req: Request, @Param('id') id: string): Promise<JobView> {
    return this.jobs.get(await this.callers.viewer(presented(req)), id);
  }

  @Delete(':id')
  async cancel(@Req() req: Request, @Param('id') id: string): Promise<JobView> {
    return this.jobs.cancel(await this.callers.viewer(presented(req)), id);
  }
}
