/** The local SMTP sink, for tests that read the mails the worker sends (invitations, resets). */
export { startMailSink, formatMail } from '../../scripts/mail-sink';
export type { CapturedMail, MailSink, MailSinkOptions } from '../../scripts/mail-sink';
