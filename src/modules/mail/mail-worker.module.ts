import { Module } from '@nestjs/common';
import { MailProcessor } from './mail.processor';
import { MailTransport } from './mail.transport';

/** The worker side of mail: registered only in the worker, so api pods never consume jobs. */
@Module({
  providers: [MailTransport, MailProcessor],
})
export class MailWorkerModule {}
