import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module';
import { PaymentNotificationsService } from './payment-notifications.service';
import { PaymentRawBody } from './payment-raw-body';
import { PaymentSecrets } from './payment-secrets';
import { PaymentSettingsService } from './payment-settings.service';
import { Receipts } from './receipts';
import { RedemptionService } from './redemption.service';
import { StripeGateway } from './stripe-gateway';
import { TopupsController } from './topups.controller';
import { TopupsRepository } from './topups.repository';
import { TopupsService } from './topups.service';

/** Api: top-up orders, payment settings, payment notifications (Stripe, Epay) and prepaid codes. */
@Module({
  imports: [LedgerModule],
  controllers: [TopupsController],
  providers: [TopupsRepository, PaymentSecrets, StripeGateway, PaymentSettingsService, TopupsService, PaymentNotificationsService, Receipts, RedemptionService, PaymentRawBody],
})
export class TopupsModule {}
