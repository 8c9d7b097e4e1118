import { z } from 'zod';
import { asText, isEmpty } from './common.js';
import { textType } from './text.js';
import { FieldValueError, type FieldTypeDef } from './types.js';

// Deliberately plain: one @, no spaces, a dot in the domain. RFC 5322 in full accepts
// addresses no mail form would, and rejects nothing users type by mistake.
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const EMAIL_SQL_RE = `'^[^[:space:]@]+@[^[:space:]@]+\\.[^[:space:]@]+$'`;
// Only http(s): a javascript: or data: URL must never become a link in the console.
const URL_SQL_RE = `'^https?://[^[:space:]/?#]+[^[:space:]]*$'`;

export const emailType: FieldTypeDef<Record<string, never>> = {
  ...textType,
  name: 'email',
  label: 'Email',
  options: z.object({}).strict(),
  parse(input) {
    if (isEmpty(input)) return null;
    const text = asText(input, 320).trim();
    if (!EMAIL_RE.test(text)) throw new FieldValueError(`"${text.slice(0, 60)}" is not an email address`);
    return text;
  },
  fromText: (t) => `CASE WHEN btrim(${t}) ~* ${EMAIL_SQL_RE} THEN btrim(${t}) END`,
};

export const urlType: FieldTypeDef<Record<string, never>> = {
  ...textType,
  name: 'url',
  label: 'URL',
  options: z.object({}).strict(),
  parse(input) {
    if (isEmpty(input)) return null;
    const text = asText(input, 2048).trim();
    let u: URL;
    try {
      u = new URL(text);
    } catch {
      throw new FieldValueError(`"${text.slice(0, 60)}" is not a URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new FieldValueError('must be an http:// or https:// URL');
    if (/\s/.test(text)) throw new FieldValueError('may not contain spaces');
    return text;
  },
  fromText: (t) => `CASE WHEN btrim(${t}) ~* ${URL_SQL_RE} THEN btrim(${t}) END`,
};
