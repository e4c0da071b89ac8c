import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ejs from 'ejs';
import type { MailBrand } from '../domain/identity';

const views = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../views/mail');

/**
 * Renders an e-mail's two parts: HTML (escaped) and plain text (not escaped: it is not markup). The HTML wears the
 * organisation's colour and font (`brand`): the State's only for a State service.
 */
export async function renderMail(name: string, data: Record<string, unknown>, brand: MailBrand): Promise<{ html: string; text: string }> {
  const [html, text] = await Promise.all([
    ejs.renderFile(path.join(views, `${name}.html.ejs`), { ...data, brand }, { cache: true, escape: ejs.escapeXML }),
    ejs.renderFile(path.join(views, `${name}.txt.ejs`), data, { cache: true, escape: (s: unknown) => String(s ?? '') }),
  ]);
  return { html, text: text.replace(/\n{3,}/g, '\n\n').trim() + '\n' };
}
