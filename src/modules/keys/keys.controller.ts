import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import { RequirePermission } from '@app/authorization';
import { UuidParam } from '../../common/params';
import { ApiProblems, ProblemSchema } from '../../common/problem.schema';
import { CreateKeyRequest, KeyListQuery, KeyPage, KeyView, KeyWithSecretView, RotateKeyRequest, UpdateKeyRequest } from './dto/key.dto';
import { API_KEY } from './keys.permissions';
import { KeysService } from './keys.service';

@ApiTags('api-keys')
@Controller('api/v1/keys')
export class KeysController {
  constructor(private readonly keys: KeysService) {}

  @Get()
  @RequirePermission('read', API_KEY)
  @ApiOperation({ summary: 'API keys you may manage (yours; your bound customers\'; the tenant\'s), newest first' })
  @ApiOkResponse({ type: KeyPage })
  @ApiProblems('validation')
  list(@Query() query: KeyListQuery): Promise<KeyPage> {
    return this.keys.list(query);
  }

  @Post()
  @RequirePermission('create', API_KEY)
  @ApiOperation({
    summary: 'Create a key for a customer; the secret is in this response only, never again',
    description: 'Keys are made for active customers only: an invited customer (who has not accepted the invitation) or a disabled one is refused with 422 `unknown_customer`, like a customer out of your reach.',
  })
  @ApiCreatedResponse({ type: KeyWithSecretView })
  @ApiProblems('validation')
  @ApiUnprocessableEntityResponse({ type: ProblemSchema, description: '`unknown_customer`: not an active customer whose keys you manage (unknown, invited, disabled); `unknown_model`: a model in allowedModels has no price' })
  create(@Body() body: CreateKeyRequest): Promise<KeyWithSecretView> {
    return this.keys.create(body);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One API key (never its secret), with its spend so far' })
  @RequirePermission('read', API_KEY)
  @ApiOkResponse({ type: KeyView })
  @ApiProblems('notFound')
  get(@Param('id', UuidParam('API key')) id: string): Promise<KeyView> {
    return this.keys.get(id);
  }

  @Patch(':id')
  @RequirePermission('update', API_KEY)
  @ApiOperation({ summary: 'Change name and limits (null clears a limit); effective on every instance within seconds' })
  @ApiOkResponse({ type: KeyView })
  @ApiProblems('validation', 'notFound', 'conflict')
  @ApiUnprocessableEntityResponse({ type: ProblemSchema, description: 'Unknown model' })
  update(@Param('id', UuidParam('API key')) id: string, @Body() body: UpdateKeyRequest): Promise<KeyView> {
    return this.keys.update(id, body);
  }

  @Post(':id/disable')
  @HttpCode(200)
  @RequirePermission('disable', API_KEY)
  @ApiOperation({ summary: 'Disable a key (refused on every instance within 5 s); enable undoes it' })
  @ApiOkResponse({ type: KeyView })
  @ApiProblems('notFound', 'conflict')
  disable(@Param('id', UuidParam('API key')) id: string): Promise<KeyView> {
    return this.keys.setStatus(id, 'disabled');
  }

  @Post(':id/enable')
  @ApiOperation({ summary: 'Enable a disabled key again (a revoked key stays revoked)' })
  @HttpCode(200)
  @RequirePermission('enable', API_KEY)
  @ApiOkResponse({ type: KeyView })
  @ApiProblems('notFound', 'conflict')
  enable(@Param('id', UuidParam('API key')) id: string): Promise<KeyView> {
    return this.keys.setStatus(id, 'active');
  }

  @Post(':id/rotate')
  @HttpCode(200)
  @RequirePermission('update', API_KEY)
  @ApiOperation({ summary: 'New secret (in this response only); the old one works for the grace period (default 1 h, at most 7 days)' })
  @ApiOkResponse({ type: KeyWithSecretView })
  @ApiProblems('validation', 'notFound', 'conflict')
  rotate(@Param('id', UuidParam('API key')) id: string, @Body() body: RotateKeyRequest): Promise<KeyWithSecretView> {
    return this.keys.rotate(id, body);
  }

  @Delete(':id')
  @HttpCode(200)
  @RequirePermission('delete', API_KEY)
  @ApiOperation({ summary: 'Revoke a key: final, on every instance within 5 s (the record stays for usage history)' })
  @ApiOkResponse({ type: KeyView })
  @ApiProblems('notFound')
  revoke(@Param('id', UuidParam('API key')) id: string): Promise<KeyView> {
    return this.keys.revoke(id);
  }
}
