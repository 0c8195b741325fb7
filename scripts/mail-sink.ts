/**
 * A local SMTP sink: accepts every message on loopback (no TLS, no auth), parses it and keeps it in
 * memory. `npm run dev` runs it on port 1025 and prints each mail so invitation and reset links can
 * be followed; tests use it (through test/support/mail.ts) to read the mails the worker sends.
 *
 *   node dist/scripts/mail-sink.js [port]    runs it alone and prints every mail
 */
import { simpleParser } from 'mailparser';
import { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface CapturedMail {
  /** The From header as written ("Name <address>"), or the envelope sender when there is none. */
  from: string;
  /** The envelope recipients (RCPT TO), which include Bcc. */
  to: string[];
  subject: string;
  text: string;
  html?: string;
  receivedAt: Date;
}

export interface MailSink {
  port: number;
  /** smtp://127.0.0.1:PORT, ready for SMTP_URL. */
  url: string;
  messages: CapturedMail[];
  /** The first mail, already received or still to come, that matches; rejects after timeoutMs. */
  waitFor(predicate: (m: CapturedMail) => boolean, timeoutMs?: number): Promise<CapturedMail>;
  close(): Promise<void>;
}

export interface MailSinkOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Loopback only: the sink accepts anything, so it must never face a network. */
  host?: string;
  /**
   * Holds the reply to DATA this long after the message was captured, as a slow mail server would:
   * the sender's job is then in flight while the mail is already in `messages`.
   */
  delayMs?: number;
  onMail?: (mail: CapturedMail) => void;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export async function startMailSink(options: MailSinkOptions = {}): Promise<MailSink> {
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host)) throw new Error(`the mail sink listens on loopback only, not on ${host}`);
  const messages: CapturedMail[] = [];
  const waiters = new Set<{ predicate: (m: CapturedMail) => boolean; resolve: (m: CapturedMail) => void }>();

  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    logger: false,
    banner: 'AIGateway local mail sink',
    size: 10 * 1024 * 1024,
    // close() should not wait for a pooled sender's idle connection.
    closeTimeout: 100,
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          const envelopeFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
          const mail: CapturedMail = {
            from: parsed.from?.text || envelopeFrom,
            to: session.envelope.rcptTo.map((r) => r.address),
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : undefined,
            receivedAt: new Date(),
          };
          messages.push(mail);
          options.onMail?.(mail);
          for (const waiter of waiters) {
            if (waiter.predicate(mail)) {
              waiters.delete(waiter);
              waiter.resolve(mail);
            }
          }
          setTimeout(() => callback(), options.delayMs ?? 0);
        })
        .catch((error: unknown) => callback(error instanceof Error ? error : new Error(String(error))));
    },
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`Port ${options.port} is already in use, so the mail sink cannot start there. Stop whatever listens there, or set SMTP_URL.`)
          : error,
      );
    };
    server.once('error', onError);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  // A client that drops its connection must not take the sink down.
  server.on('error', () => undefined);
  const port = (server.server.address() as AddressInfo).port;

  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    waitFor(predicate, timeoutMs = 10_000) {
      const already = messages.find(predicate);
      if (already) return Promise.resolve(already);
      return new Promise<CapturedMail>((resolve, reject) => {
        const waiter = {
          predicate,
          resolve: (mail: CapturedMail) => {
            clearTimeout(timer);
            resolve(mail);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          const seen = messages.map((m) => `${m.to.join(',')}: ${m.subject}`).join('; ') || 'none';
          reject(new Error(`no matching mail within ${timeoutMs} ms (received: ${seen})`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** How `npm run dev` shows a mail: who, what, and the text with its links. */
export function formatMail(mail: CapturedMail): string {
  return [`to:      ${mail.to.join(', ')}`, `from:    ${mail.from}`, `subject: ${mail.subject}`, '', mail.text.trimEnd()].join('\n');
}

if (require.main === module) {
  const port = Number(process.argv[2] ?? 1025);
  startMailSink({ port, onMail: (mail) => console.log(`\n--- mail received ---\n${formatMail(mail)}\n---------------------`) }).then(
    (sink) => {
      console.log(`mail sink listening on ${sink.url}`);
      const stop = () => void sink.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      process.exit(1);
    },
  );
}
