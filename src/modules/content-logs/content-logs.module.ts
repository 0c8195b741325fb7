import { Module } from '@nestjs/common';
import { ContentLogRuntime } from './content-log-runtime';
import { ContentLogsController } from './content-logs.controller';
import { ContentLogsRepository } from './content-logs.repository';
import { ContentLogsService } from './content-logs.service';

/** The inference path's side of content logging (api process). */
@Module({ providers: [ContentLogsRepository, ContentLogRuntime], exports: [ContentLogRuntime, ContentLogsRepository] })
export class ContentLogRuntimeModule {}

/** Settings and reading of stored content (api process). */
@Module({ imports: [ContentLogRuntimeModule], controllers: [ContentLogsController], providers: [ContentLogsService] })
export class ContentLogsModule {}
