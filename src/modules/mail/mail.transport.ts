import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { createTransport, Transporter } from 'nodemailer';

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html?: string;
}

/** SMTP through nodemailer, pooled; the only place that talks to the mail server. */
@Injectable()
export class MailTransport implements OnApplicationShutdown {
  private readonly transporter: Transporter;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.transporter = createTransport(config.SMTP_URL, { pool: true, maxConnections: 4 } as object);
  }

  async send(mail: OutgoingMail): Promise<string> {
    const info = await this.transporter.sendMail({ from: this.config.MAIL_FROM, ...mail });
    return String(info.messageId);
  }

  onApplicationShutdown(): void {
    this.transporter.close();
  }
}
