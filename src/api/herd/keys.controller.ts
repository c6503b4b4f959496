import { Body, Controller, Delete, Get, Param, Patch, Post, UseGuards } from '@nestjs/common';
import type { ApiKeyView } from '../../tenants/api-key';
import { ApiKeysService } from '../../tenants/api-keys.service';
import { keyChangesFrom, newKeyFrom } from './key.dto';
import { AdminKeyGuard } from './key-guards';

/**
 * API keys for HERD_AUTH=keys (admin key required, as for every admin route). The plain key appears once, in
 * the answer to its creation; no other answer holds it or its hash.
 */
@Controller('herd/keys')
@UseGuards(AdminKeyGuard)
export class KeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  async create(@Body() body: unknown): Promise<ApiKeyView & { key: string }> {
    return await this.keys.create(newKeyFrom(body));
  }

  @Get()
  async list(): Promise<{ keys: ApiKeyView[] }> {
    return { keys: await this.keys.list() };
  }

  @Get(':id')
  async get(@Param('id') id: string): Promise<ApiKeyView> {
    return await this.keys.get(id);
  }

  @Patch(':id')
  async change(@Param('id') id: string, @Body() body: unknown): Promise<ApiKeyView> {
    return await this.keys.change(id, keyChangesFrom(body));
  }

  /** Revokes the key (kept, marked revoked, for the record); every replica refuses it within a second. */
  @Delete(':id')
  async revoke(@Param('id') id: string): Promise<ApiKeyView> {
    return await this.keys.revoke(id);
  }
}
