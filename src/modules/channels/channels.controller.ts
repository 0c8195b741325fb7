import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequirePermission } from '@app/authorization';
import { UuidParam } from '../../common/params';
import { ApiProblems } from '../../common/problem.schema';
import { CHANNEL } from './channels.permissions';
import { ChannelsService } from './channels.service';
import { ChannelListQuery, ChannelModelSync, ChannelPage, ChannelPresetView, ChannelTestResult, ChannelView, CreateChannelRequest, TestChannelRequest, UpdateChannelRequest } from './dto/channel.dto';

@ApiTags('channels')
@Controller('api/v1/channels')
export class ChannelsController {
  constructor(private readonly channels: ChannelsService) {}

  @Get()
  @RequirePermission('read', CHANNEL)
  @ApiOperation({ summary: 'Upstream channels (platform owner and tech)' })
  @ApiOkResponse({ type: ChannelPage })
  @ApiProblems('validation')
  list(@Query() query: ChannelListQuery): Promise<ChannelPage> {
    return this.channels.list(query);
  }

  @Post()
  @RequirePermission('create', CHANNEL)
  @ApiOperation({ summary: 'Add an upstream channel; its keys are stored encrypted and never shown again' })
  @ApiCreatedResponse({ type: ChannelView })
  @ApiProblems('validation', 'conflict')
  create(@Body() body: CreateChannelRequest): Promise<ChannelView> {
    return this.channels.create(body);
  }

  @Get('presets')
  @RequirePermission('read', CHANNEL)
  @ApiOperation({ summary: 'OpenAI-compatible services with their base URLs and quirks (a channel names one in settings.preset)' })
  @ApiOkResponse({ type: [ChannelPresetView] })
  presets(): ChannelPresetView[] {
    return this.channels.presets();
  }

  @Get(':channelId')
  @ApiOperation({ summary: 'One upstream channel (its keys only by their last four characters)' })
  @RequirePermission('read', CHANNEL)
  @ApiOkResponse({ type: ChannelView })
  @ApiProblems('notFound')
  get(@Param('channelId', UuidParam(CHANNEL)) channelId: string): Promise<ChannelView> {
    return this.channels.get(channelId);
  }

  @Patch(':channelId')
  @RequirePermission('update', CHANNEL)
  @ApiOperation({ summary: 'Change settings, models, costs; add, remove or re-enable keys' })
  @ApiOkResponse({ type: ChannelView })
  @ApiProblems('validation', 'notFound', 'conflict')
  update(@Param('channelId', UuidParam(CHANNEL)) channelId: string, @Body() body: UpdateChannelRequest): Promise<ChannelView> {
    return this.channels.update(channelId, body);
  }

  @Delete(':channelId')
  @ApiOperation({ summary: 'Remove an upstream channel' })
  @HttpCode(204)
  @RequirePermission('delete', CHANNEL)
  @ApiNoContentResponse()
  @ApiProblems('notFound')
  remove(@Param('channelId', UuidParam(CHANNEL)) channelId: string): Promise<void> {
    return this.channels.remove(channelId);
  }

  @Post(':channelId/disable')
  @HttpCode(200)
  @RequirePermission('disable', CHANNEL)
  @ApiOperation({ summary: 'Stop routing to this channel (every instance, within a moment)' })
  @ApiOkResponse({ type: ChannelView })
  @ApiProblems('notFound')
  disable(@Param('channelId', UuidParam(CHANNEL)) channelId: string): Promise<ChannelView> {
    return this.channels.setStatus(channelId, 'disabled');
  }

  @Post(':channelId/enable')
  @HttpCode(200)
  @RequirePermission('enable', CHANNEL)
  @ApiOperation({ summary: 'Route to this channel again (also after an automatic disable)' })
  @ApiOkResponse({ type: ChannelView })
  @ApiProblems('notFound')
  enable(@Param('channelId', UuidParam(CHANNEL)) channelId: string): Promise<ChannelView> {
    return this.channels.setStatus(channelId, 'enabled');
  }

  @Post(':channelId/models/sync')
  @HttpCode(200)
  @RequirePermission('update', CHANNEL)
  @ApiOperation({ summary: "Read the upstream's model list and propose mappings for models not routed yet; changes nothing" })
  @ApiOkResponse({ type: ChannelModelSync })
  @ApiProblems('validation', 'notFound')
  syncModels(@Param('channelId', UuidParam(CHANNEL)) channelId: string): Promise<ChannelModelSync> {
    return this.channels.syncModels(channelId);
  }

  @Post(':channelId/balance')
  @HttpCode(200)
  @RequirePermission('update', CHANNEL)
  @ApiOperation({ summary: "Read the upstream account's balance now (DeepSeek, Kimi, OpenRouter presets); a zero balance marks the channel quota-exhausted" })
  @ApiOkResponse({ type: ChannelView })
  @ApiProblems('validation', 'notFound')
  refreshBalance(@Param('channelId', UuidParam(CHANNEL)) channelId: string): Promise<ChannelView> {
    return this.channels.refreshBalance(channelId);
  }

  @Post(':channelId/test')
  @HttpCode(200)
  @RequirePermission('update', CHANNEL)
  @ApiOperation({ summary: 'Send one tiny real request now; returns latency and the error, changes nothing' })
  @ApiOkResponse({ type: ChannelTestResult })
  @ApiProblems('validation', 'notFound')
  test(@Param('channelId', UuidParam(CHANNEL)) channelId: string, @Body() body: TestChannelRequest): Promise<ChannelTestResult> {
    return this.channels.test(channelId, body);
  }
}
