import { Body, Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import type { Request } from 'express';
import { BatchCallers } from '../../batch/batch-callers';
import { BatchService } from '../../batch/batch.service';
import type { BatchObject, ListPage } from '../../batch/batch-views';
import { listAfter, listLimit, presented } from './presented';

/** OpenAI's /v1/batches. */
@Controller('v1/batches')
export class BatchesController {
  constructor(
    private readonly batches: BatchService,
    private readonly callers: BatchCallers,
  ) {}

  @Post()
  @HttpCode(200)
  async create(@Req() req: Request, @Body() body: unknown): Promise<BatchObject> {
    return this.batches.create(presented(req), body);
  }

  @Get()
  async list(@Req() req: Request, @Query('after') after: unknown, @Query('limit') limit: unknown): Promise<ListPage<BatchObject>> {
    return this.batches.list(await this.callers.viewer(presented(req)), listAfter(after), listLimit(limit));
  }

  @Get(':id')
  async get(@Req() req: Request, @Param('id') id: string): Promise<BatchObject> {
    return this.batches.get(await this.callers.viewer(presented(req)), id);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  async cancel(@Req() req: Request, @Param('id') id: string): Promise<BatchObject> {
    return this.batches.cancel(await this.callers.viewer(presented(req)), id);
  }
}
