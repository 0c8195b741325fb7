/** The local SMTP sink, for tests that read the mails the worker sends (invitations, resets). */
import { MailSink, MailSinkOptions, startMailSink as startSink } from '../../scripts/mail-sink';
import { scaled } from './timing';

export { formatMail } from '../../scripts/mail-sink';
export type { CapturedMail, MailSink, MailSinkOptions } from '../../scripts/mail-sink';

/** The sink, whose waitFor deadline (10 s unless given, on a quiet machine) scales with the machine. */
export async function startMailSink(options: MailSinkOptions = {}): Promise<MailSink> {
  const sink = await startSink(options);
  const waitFor = sink.waitFor.bind(sink);
  sink.waitFor = (predicate, timeoutMs = 10_000) => waitFor(predicate, scaled(timeoutMs));
  return sink;
}
