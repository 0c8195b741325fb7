import { Module } from '@nestjs/common';
import { StatementsController } from './statements.controller';
import { StatementsRepository } from './statements.repository';
import { StatementsService } from './statements.service';

/** Api: reading settlement statements (the worker's SettlementWorkerModule writes them). */
@Module({
  controllers: [StatementsController],
  providers: [StatementsRepository, StatementsService],
})
export class SettlementModule {}
