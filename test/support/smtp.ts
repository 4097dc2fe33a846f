import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';

export interface CapturedMail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  /** The login the client authenticated with, if any. */
  user: string | null;
  parsed: ParsedMail;
}

export interface TestSmtp {
  port: number;
  /** `smtp://user:pass@127.0.0.1:port` for SMTP_URL. */
  url: string;
  mails: CapturedMail[];
  /** Resolves with the first captured mail (from now or earlier) to `to` that `match` accepts. */
  waitFor(to: string, match?: (m: CapturedMail) => boolean, timeoutMs?: number): Promise<CapturedMail>;
  close(): Promise<void>;
}

/**
 * A real SMTP server on loopback (`smtp-server`, the server half of nodemailer's project) that
 * takes every message, with AUTH PLAIN/LOGIN over the plain connection (no STARTTLS), and keeps
 * each one parsed (`mailparser`), as a test's mailbox.
 */
export async function startTestSmtp(opts: { user?: string; pass?: string; port?: number } = {}): Promise<TestSmtp> {
  const user = opts.user ?? 'mailer';
  const pass = opts.pass ?? 'mail-secret';
  const mails: CapturedMail[] = [];
  const waiters = new Set<() => void>();
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authOptional: false,
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === user && auth.password === pass) return cb(null, { user: auth.username });
      return cb(new Error('Invalid username or password'));
    },
    onData(stream, session, cb) {
      simpleParser(stream).then(
        (parsed) => {
          const addr = (a: typeof parsed.to): string[] => (a ? (Array.isArray(a) ? a : [a]).flatMap((x) => x.value.map((v) => v.address ?? '')) : []);
          mails.push({
            from: parsed.from?.value[0]?.address ?? '',
            to: addr(parsed.to).length > 0 ? addr(parsed.to) : session.envelope.rcptTo.map((r) => r.address),
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : '',
            user: typeof session.user === 'string' ? session.user : null,
            parsed,
          });
          for (const w of waiters) w();
          cb();
        },
        (err: Error) => cb(err),
      );
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    url: `smtp://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@127.0.0.1:${port}`,
    mails,
    waitFor(to, match = () => true, timeoutMs = 10_000) {
      const find = () => mails.find((m) => m.to.includes(to.toLowerCase()) && match(m));
      return new Promise<CapturedMail>((resolve, reject) => {
        const found = find();
        if (found) return resolve(found);
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no mail to ${to} within ${timeoutMs} ms (got ${mails.length}: ${mails.map((m) => `${m.to.join(',')} "${m.subject}"`).join('; ')})`));
        }, timeoutMs);
        const check = () => {
          const m = find();
          if (!m) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(m);
        };
        waiters.add(check);
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The first console link (`/console/<page>?token=…`) in a mail's plain text. */
export function linkIn(mail: CapturedMail, page: 'reset-password' | 'verify-email'): URL {
  const m = new RegExp(`https?://\\S+/console/${page}\\?token=[^\\s]+`).exec(mail.text);
  if (!m) throw new Error(`no ${page} link in:\n${mail.text}`);
  return new URL(m[0]);
}
