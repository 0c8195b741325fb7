import { Injectable, Logger } from '@nestjs/common';
import { trimDecimal } from '@app/money';
import { TenantDb } from '@app/tenancy';
import { MailQueue } from '../mail/mail.queue';
import { TopupsRepository } from './topups.repository';

/**
 * A receipt mail for every credit a customer paid for (top-up, prepaid code), queued after the
 * credit committed. The credit never depends on it: if Redis cannot take the mail, it is logged
 * and the customer still sees the credit in their transactions.
 */
@Injectable()
export class Receipts {
  private readonly logger = new Logger(Receipts.name);

  constructor(
    private readonly tenantDb: TenantDb,
    private readonly repository: TopupsRepository,
    private readonly mail: MailQueue,
  ) {}

  async send(tenantId: string, customerId: string, credit: { amount: string; currency: string | null; what: string; balance: string }): Promise<void> {
    try {
      const customer = await this.tenantDb.run({ tenantId }, (m) => this.repository.customer(m, tenantId, customerId));
      if (!customer) return;
      const amount = `${trimDecimal(credit.amount)}${credit.currency ? ` ${credit.currency.toUpperCase()}` : ''}`;
      await this.mail.enqueue({
        tenantId,
        to: customer.email,
        subject: `Receipt: ${amount} added to your balance`,
        text: [`Thank you. ${amount} was added to your balance (${credit.what}).`, `Your balance is now ${trimDecimal(credit.balance)}.`].join('\n\n'),
        kind: 'topup.receipt',
      });
    } catch (error) {
      this.logger.warn({ tenantId, customerId, error: (error as Error).message }, 'receipt mail could not be queued');
    }
  }
}
