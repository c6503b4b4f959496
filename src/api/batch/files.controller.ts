import { Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { BatchCallers } from '../../batch/batch-callers';
import { BatchFilesService, tooLarge, type Upload } from '../../batch/batch-files.service';
import type { FileObject, ListPage } from '../../batch/batch-views';
import { parseMultipart } from '../../batch/multipart-form';
import { HerdError } from '../../common/herd-error';
import { listAfter, listLimit, presented } from './presented';
import { readUpload } from './upload-body';

/** OpenAI's /v1/files, for batch input files and the output and error files of batches. */
@Controller('v1/files')
export class FilesController {
  constructor(
    private readonly files: BatchFilesService,
    private readonly callers: BatchCallers,
  ) {}

  @Post()
  @HttpCode(200)
  async upload(@Req() req: Request): Promise<FileObject> {
    const viewer = await this.callers.viewer(presented(req));
    const reading = readUpload(req, this.files.maxBytes);
    if (!reading) throw HerdError.badRequest('POST /v1/files takes a multipart/form-data body with a "file" and purpose=batch');
    const captured = await reading;
    if ('tooLarge' in captured) throw tooLarge(this.files.maxBytes);
    if ('aborted' in captured) throw HerdError.badRequest('request body was cut off by the client');
    const parts = parseMultipart(captured.body, captured.boundary);
    const filePart = parts.find((p) => p.name === 'file' && p.filename !== undefined) ?? parts.find((p) => p.name === 'file');
    const purpose = parts.find((p) => p.name === 'purpose')?.data.toString('utf8');
    const upload: Upload | undefined = filePart ? { filename: filePart.filename, data: filePart.data } : undefined;
    return this.files.upload(viewer, purpose, upload);
  }

  @Get()
  async list(@Req() req: Request, @Query('after') after: unknown, @Query('limit') limit: unknown): Promise<ListPage<FileObject>> {
    return this.files.list(await this.callers.viewer(presented(req)), listAfter(after), listLimit(limit));
  }

  @Get(':id')
  async get(@Req() req: Request, @Param('id') id: string): Promise<FileObject> {
    return this.files.get(await this.callers.viewer(presented(req)), id);
  }

  @Get(':id/content')
  async content(@Req() req: Request, @Res() res: Response, @Param('id') id: string): Promise<void> {
    const pieces = await this.files.content(await this.callers.viewer(presented(req)), id);
    res.status(200).setHeader('Content-Type', 'application/octet-stream');
    for await (const piece of pieces) {
      if (!res.write(piece)) await new Promise((r) => res.once('drain', r));
    }
    res.end();
  }

  @Delete(':id')
  async remove(@Req() req: Request, @Param('id') id: string): Promise<{ id: string; object: 'file'; deleted: true }> {
    return this.files.delete(await this.callers.viewer(presented(req)), id);
  }
}
