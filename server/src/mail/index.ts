import nodemailer, { type Transporter } from 'nodemailer';
import { mailUserAddress, type Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { MailContent } from './templates.js';

export { pickMailLanguage, resetPasswordMail, verifyEmailMail, type MailLanguage } from './templates.js';

/**
 * Outgoing mail over SMTP (nodemailer). Sending never blocks the request that caused it and never
 * fails it: the message goes out in the background and a failure is written to the log only, so a
 * caller cannot tell a sent mail from an unsent one (nor a registered address from a free one).
 * Without SMTP configured `enabled` is false and nothing is sent.
 */
export class Mailer {
  readonly enabled: boolean;
  readonly from: string | null;
  private readonly transport: Transporter | null;
  private readonly pending = new Set<Promise<void>>();

  constructor(
    mail: Config['mail'],
    private readonly log: Logger,
  ) {
    this.enabled = Boolean(mail.url || mail.host);
    this.from = mail.from ?? mailUserAddress(mail);
    if (!this.enabled) {
      this.transport = null;
      return;
    }
    const timeouts = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 };
    this.transport = mail.url
      ? nodemailer.createTransport({ ...smtpUrlOptions(mail.url), ...timeouts })
      : nodemailer.createTransport({
          host: mail.host,
          port: mail.port ?? (mail.secure ? 465 : 587),
          secure: mail.secure ?? mail.port === 465,
          ...(mail.user ? { auth: { user: mail.user, pass: mail.pass ?? '' } } : {}),
          ...timeouts,
        });
  }

  /**
   * Send in the background: returns at once, never throws. `kind` names the message in the log
   * (`verify_email`, `reset_password`).
   */
  send(kind: string, to: string, content: MailContent): void {
    if (!this.transport) {
      this.log.warn({ mail: kind, to }, 'mail is off (SMTP is not configured): message not sent');
      return;
    }
    const p = this.transport
      .sendMail({ from: this.from!, to, subject: content.subject, text: content.text, html: content.html })
      .then(
        (info) => this.log.info({ mail: kind, to, messageId: info.messageId }, 'mail sent'),
        (err: Error & { code?: string; responseCode?: number }) =>
          this.log.error({ mail: kind, to, err: err.message, code: err.code, responseCode: err.responseCode }, 'could not send mail'),
      )
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Resolves when every message handed to `send` so far has been sent or has failed. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** At start-up: tell the operator whether the SMTP server answers (in the background, logged). */
  check(): void {
    if (!this.transport) {
      this.log.info('mail is off (no SMTP_URL / SMTP_HOST): no email verification, password reset by the operator only');
      return;
    }
    this.transport.verify().then(
      () => this.log.info({ from: this.from }, 'SMTP server reachable: email verification and password reset are on'),
      (err: Error) => this.log.error({ err: err.message }, 'SMTP server not reachable: verification and reset mails will fail until it is'),
    );
  }

  async close(): Promise<void> {
    await this.idle();
    this.transport?.close();
  }
}

/** SMTP_URL → nodemailer options (user and password may be percent-encoded). */
function smtpUrlOptions(url: string) {
  const u = new URL(url);
  const secure = u.protocol === 'smtps:';
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port ? Number(u.port) : secure ? 465 : 587,
    secure,
    ...(u.username ? { auth: { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } } : {}),
  };
}
