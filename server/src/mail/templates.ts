/**
 * The messages Tollgate sends, in English and Simplified Chinese: plain text plus a simple HTML
 * part with the same words. The language is the browser's (or the console's chosen one, sent as
 * `x-tollgate-lang`) on the request that caused the mail.
 */
export type MailLanguage = 'en-US' | 'zh-CN';

export interface MailContent {
  subject: string;
  text: string;
  html: string;
}

/** The console's language header wins; then Accept-Language; English otherwise. */
export function pickMailLanguage(headers: Headers | undefined): MailLanguage {
  const chosen = headers?.get('x-tollgate-lang');
  if (chosen) return chosen.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en-US';
  const accept = headers?.get('accept-language') ?? '';
  for (const part of accept.split(',')) {
    const tag = part.split(';')[0]!.trim().toLowerCase();
    if (tag.startsWith('zh')) return 'zh-CN';
    if (tag.startsWith('en')) return 'en-US';
  }
  return 'en-US';
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function html(lang: MailLanguage, title: string, paragraphs: string[], button: string, url: string, footer: string): string {
  const p = (t: string) => `<p style="margin:0 0 16px;line-height:1.5">${esc(t)}</p>`;
  return `<!doctype html>
<html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${esc(title)}</title></head>
<body style="margin:0;padding:24px;background:#f5f5f5;font-family:-apple-system,'Segoe UI',Roboto,'PingFang SC','Microsoft YaHei',sans-serif;color:#1f1f1f">
<div style="max-width:520px;margin:0 auto;background:#fff;border-radius:8px;padding:32px">
<h1 style="font-size:20px;margin:0 0 20px">${esc(title)}</h1>
${paragraphs.map(p).join('\n')}
<p style="margin:24px 0"><a href="${esc(url)}" style="display:inline-block;background:#1677ff;color:#fff;text-decoration:none;padding:10px 20px;border-radius:6px">${esc(button)}</a></p>
<p style="margin:0 0 16px;font-size:13px;color:#666;word-break:break-all">${esc(url)}</p>
<p style="margin:24px 0 0;font-size:13px;color:#999">${esc(footer)}</p>
</div></body></html>`;
}

function text(paragraphs: string[], url: string, footer: string): string {
  return [...paragraphs, url, '', footer, ''].join('\n\n').replace(/\n{3,}/g, '\n\n');
}

const hello = (lang: MailLanguage, name: string) => (lang === 'zh-CN' ? `${name}，您好：` : `Hello ${name},`);

export function verifyEmailMail(lang: MailLanguage, v: { name: string; url: string; hours: number }): MailContent {
  if (lang === 'zh-CN') {
    const title = '验证您的 Tollgate 邮箱';
    const body = [hello(lang, v.name), '请打开下面的链接，确认这是您的邮箱地址。', `链接 ${v.hours} 小时内有效。`];
    const footer = '如果您没有注册 Tollgate 账户，请忽略这封邮件。';
    return { subject: title, text: text(body, v.url, footer), html: html(lang, title, body, '验证邮箱', v.url, footer) };
  }
  const title = 'Verify your Tollgate email address';
  const body = [hello(lang, v.name), 'Open the link below to confirm that this is your email address.', `The link works for ${v.hours} hours.`];
  const footer = 'If you did not create a Tollgate account, ignore this message.';
  return { subject: title, text: text(body, v.url, footer), html: html(lang, title, body, 'Verify email', v.url, footer) };
}

export function resetPasswordMail(lang: MailLanguage, v: { name: string; url: string; minutes: number }): MailContent {
  if (lang === 'zh-CN') {
    const title = '重置您的 Tollgate 密码';
    const body = [hello(lang, v.name), '我们收到了重置您密码的请求。请打开下面的链接设置新密码。', `链接 ${v.minutes} 分钟内有效，只能使用一次。设置新密码后，所有已登录的会话都会退出。`];
    const footer = '如果这不是您本人的操作，请忽略这封邮件，您的密码不会改变。';
    return { subject: title, text: text(body, v.url, footer), html: html(lang, title, body, '设置新密码', v.url, footer) };
  }
  const title = 'Reset your Tollgate password';
  const body = [
    hello(lang, v.name),
    'Someone asked to reset the password of your account. Open the link below to choose a new one.',
    `The link works once, for ${v.minutes} minutes. Setting a new password signs you out everywhere.`,
  ];
  const footer = 'If you did not ask for this, ignore this message: your password stays as it is.';
  return { subject: title, text: text(body, v.url, footer), html: html(lang, title, body, 'Choose a new password', v.url, footer) };
}
