import { deflateSync } from 'node:zlib';
import { expect } from 'chai';
import { contrastRatio, logoType } from '../src/domain/identity';
import { digestPreview } from '../src/services/mail-admin';
import { signedIn } from './builders';
import { type Agent, csrfOf, ENGINE, freshApp, NOW, signIn, type TestApp, textOf } from './helpers';

/** A real PNG of w×h pixels of one colour (filled with noise when `noisy`, so it does not compress). */
function png(w: number, h: number, noisy = false): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer) => { let c = 0xffffffff; for (const x of b) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const sum = Buffer.alloc(4); sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let i = 0; i < raw.length; i++) raw[i] = i % (w * 3 + 1) === 0 ? 0 : noisy ? (i * 2654435761) >>> 24 : 0x33;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: noisy ? 0 : 9 })), chunk('IEND', Buffer.alloc(0))]);
}

const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');

describe(`the organisation's identity (${ENGINE})`, () => {
  let t: TestApp;
  let admin: Agent;

  beforeEach(async () => {
    t = await freshApp();
    admin = await signIn(t.app, 'admin@metropole.example.org');
  });
  afterEach(async () => t.close());

  /** Sends the identity form as the browser does: multipart, the token first, the file last. */
  async function sendIdentity(agent: Agent, fields: Record<string, string>, logo?: { data: Buffer; name: string }) {
    const page = await agent.get('/admin/identite').expect(200);
    const version = /name="version" value="(\d+)"/.exec(page.text)![1]!;
    let req = agent.post('/admin/identite').field('_csrf', csrfOf(page.text)).field('version', fields.version ?? version);
    for (const [k, v] of Object.entries({ nature: 'autre', name: 'Métropole de Lyon', accent: '', logoAlt: '', ...fields })) {
      if (k !== 'version') req = req.field(k, v);
    }
    if (logo) req = req.attach('logo', logo.data, logo.name);
    return req;
  }

  it('measures contrast as WCAG does and tells image types by their first bytes', () => {
    expect(contrastRatio('#000000', '#ffffff')).to.be.closeTo(21, 0.01);
    expect(contrastRatio('#767676', '#ffffff')).to.be.closeTo(4.54, 0.01);
    expect(logoType(png(2, 2))).to.equal('image/png');
    expect(logoType(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).to.equal('image/jpeg');
    expect(logoType(Buffer.from('RIFF\0\0\0\0WEBPVP8 ', 'latin1'))).to.equal('image/webp');
    expect(logoType(SVG)).to.equal(null);
  });

  it('saves the nature, name, accent and logo, serves the logo and the accent, and records it in the audit log', async () => {
    const res = await sendIdentity(admin, { name: 'Métropole de Lyon', accent: '#7A1F5C', logoAlt: 'Métropole de Lyon' }, { data: png(40, 20), name: 'logo.png' });
    expect(res.status, textOf(res.text).slice(0, 400)).to.equal(303);
    const row = await t.db('organisation_identity').where({ id: 1 }).first();
    expect(row).to.include({ nature: 'autre', name: 'Métropole de Lyon', accent: '#7a1f5c', logo_type: 'image/png', logo_alt: 'Métropole de Lyon' });
    expect(Number(row.version)).to.equal(2);

    const page = await admin.get('/admin/identite').expect(200);
    expect(textOf(page.text)).to.contain("L'identité est enregistrée");
    const logo = await admin.get('/identite/logo?v=2').expect(200);
    expect(logo.headers['content-type']).to.equal('image/png');
    expect(logo.headers['x-content-type-options']).to.equal('nosniff');
    expect(Buffer.compare(logo.body as Buffer, png(40, 20))).to.equal(0);
    const theme = await admin.get('/identite/theme.css?v=2').expect(200);
    expect(theme.headers['content-type']).to.match(/^text\/css/);
    expect(theme.text).to.contain('--app-accent: #7a1f5c;');

    const audit = await t.db('audit_log').where({ entity_type: 'identity' }).first();
    expect(audit.summary).to.contain('Métropole de Lyon');
    expect(String(audit.after)).to.contain('image/png');

    // removing it
    const removed = await sendIdentity(admin, { name: 'Métropole de Lyon', removeLogo: '1' });
    expect(removed.status).to.equal(303);
    await admin.get('/identite/logo?v=3').expect(404);
  });

  it('refuses a missing nature or name, a colour too light or not a colour, an SVG or an oversized logo: 422, message by the field, input kept, nothing saved', async () => {
    const before = await t.db('organisation_identity').where({ id: 1 }).first();
    const cases: { fields: Record<string, string>; logo?: { data: Buffer; name: string }; field: string; says: string }[] = [
      { fields: { nature: '' }, field: 'nature', says: "service de l'État" },
      { fields: { name: '   ' }, field: 'name', says: 'Saisissez le nom de votre organisation' },
      { fields: { accent: '#ffd700' }, field: 'accent', says: 'trop claire' },
      { fields: { accent: 'bleu' }, field: 'accent', says: '#rrvvbb' },
      { fields: {}, logo: { data: SVG, name: 'logo.png' }, field: 'logo', says: 'PNG, JPEG ou WebP' },
      { fields: {}, logo: { data: png(300, 300, true), name: 'grand.png' }, field: 'logo', says: 'dépasse 200 Ko' },
    ];
    for (const c of cases) {
      const res = await sendIdentity(admin, { name: 'Ville de Bron (saisie gardée)', ...c.fields }, c.logo);
      expect(res.status, `${c.field}: ${textOf(res.text).slice(0, 300)}`).to.equal(422);
      const message = new RegExp(`id="${c.field}-error"[^>]*>([^<]*)<`).exec(res.text);
      expect(message, `message next to ${c.field}`).to.not.equal(null);
      expect(textOf(message![1]!)).to.contain(c.says);
      if (c.fields.name === undefined) expect(res.text).to.contain('value="Ville de Bron (saisie gardée)"');
      expect(res.text).to.not.match(/at .*\.ts:\d+/);
    }
    const after = await t.db('organisation_identity').where({ id: 1 }).first();
    expect(after).to.deep.equal(before);
  });

  it('tells the second of two administrators saving from the same version, and keeps what the first saved', async () => {
    const other = await signedIn(t, 'admin');
    const pageA = await admin.get('/admin/identite').expect(200);
    const pageB = await other.get('/admin/identite').expect(200);
    const send = (agent: Agent, html: string, name: string) => agent.post('/admin/identite').field('_csrf', csrfOf(html)).field('version', '1')
      .field('nature', 'autre').field('name', name).field('accent', '').field('logoAlt', '');
    expect((await send(admin, pageA.text, 'Première version')).status).to.equal(303);
    const late = await send(other, pageB.text, 'Seconde version');
    expect(late.status).to.equal(409);
    expect(textOf(late.text)).to.contain('Un autre administrateur vient de modifier');
    expect(late.text).to.contain('value="Seconde version"');
    expect((await t.db('organisation_identity').where({ id: 1 }).first()).name).to.equal('Première version');
  });

  it('is an administrator’s page only: others get 403 and change nothing, even with a well-formed form', async () => {
    const editor = await signIn(t.app, 'equipe-projet@metropole.example.org');
    await editor.get('/admin/identite').expect(403);
    const home = await editor.get('/homologations').expect(200);
    await editor.post('/admin/identite').field('_csrf', csrfOf(home.text)).field('version', '1').field('nature', 'etat').field('name', 'Pirate')
      .field('accent', '').field('logoAlt', '').expect(403);
    // without the form's token, even an administrator's request is refused
    await admin.post('/admin/identite').field('version', '1').field('nature', 'etat').field('name', 'Sans jeton').field('accent', '').field('logoAlt', '').expect(403);
    const row = await t.db('organisation_identity').where({ id: 1 }).first();
    expect(row).to.include({ nature: 'autre', name: 'Métropole (démonstration)' });
  });

  it("serves the State's design system to a State service only", async () => {
    // the demo is a Métropole: no DSFR file exists for it
    for (const file of ['/dsfr/dsfr.min.css', '/dsfr/fonts/Marianne-Regular.woff2', '/dsfr/dsfr.module.min.js']) await admin.get(file).expect(404);
    const res = await sendIdentity(admin, { nature: 'etat', name: 'Ministère de l’Intérieur' });
    expect(res.status).to.equal(303);
    await admin.get('/dsfr/dsfr.min.css').expect(200);
    await admin.get('/dsfr/fonts/Marianne-Regular.woff2').expect(200);
    // the sign-in page too (before any session)
    const anonymous = await (await import('supertest')).default(t.app).get('/dsfr/dsfr.min.css');
    expect(anonymous.status).to.equal(200);
  });

  it('signs e-mails and proposes new homologations with the name the identity gives', async () => {
    await sendIdentity(admin, { name: 'Métropole de Lyon' });
    const page = await admin.get('/homologations/nouvelle').expect(200);
    expect(page.text).to.contain('value="Métropole de Lyon"');
  });

  it("dresses e-mails in the organisation's colour, the State's blue and Marianne for a State service only", async () => {
    const commune = await t.db('communes').where({ name: 'Villeurbanne' }).select('id', 'name').first();
    const preview = async () => (await digestPreview(t.db, t.config.mail, { id: Number(commune.id), name: String(commune.name) }, NOW)).html!;
    await sendIdentity(admin, { name: 'Métropole de Lyon', accent: '#7a1f5c' });
    const neutral = await preview();
    expect(neutral).to.contain('#7a1f5c').and.not.contain('#000091').and.not.contain('Marianne');
    await sendIdentity(admin, { nature: 'etat', name: 'Préfecture du Rhône' });
    const state = await preview();
    expect(state).to.contain('#000091').and.contain('Marianne').and.not.contain('#7a1f5c');
  });

  it('answers a body that is not well-formed multipart with a 400 and a French message, changing nothing', async () => {
    const before = await t.db('organisation_identity').where({ id: 1 }).first();
    const page = await admin.get('/admin/identite').expect(200);
    const token = csrfOf(page.text);
    const part = (name: string, value: string, file = '') => `--xyz\r\nContent-Disposition: form-data; name="${name}"${file ? `; filename="${file}"` : ''}\r\n\r\n${value}\r\n`;
    const bodies: [string, string][] = [
      ['multipart/form-data; boundary=xyz', 'pas du multipart'],
      ['multipart/form-data', part('_csrf', token)],
      ['multipart/form-data; boundary=xyz', `${part('_csrf', token)}--xyz\r\nContent-Disposition: form-data; name="logo"; filename="a.png"\r\n\r\ncoupé`],
    ];
    for (const [type, body] of bodies) {
      const res = await admin.post('/admin/identite').set('Content-Type', type).send(body);
      expect(res.status, body.slice(0, 40)).to.equal(400);
      expect(textOf(res.text)).to.contain("Le formulaire envoyé n'a pas pu être lu");
    }
    // a file under another name than the logo's: told by the form, not a crash
    const other = await admin.post('/admin/identite').set('Content-Type', 'multipart/form-data; boundary=xyz')
      .send(`${part('_csrf', token)}${part('version', '1')}${part('nature', 'autre')}${part('name', 'Ville')}${part('autre', 'abc', 'a.png')}--xyz--\r\n`);
    expect(other.status).to.equal(422);
    expect(await t.db('organisation_identity').where({ id: 1 }).first()).to.deep.equal(before);
  });

  it('publishes the director of publication and the host the administrator gives on the legal notice (LCEN)', async () => {
    const anonymous = (await import('supertest')).default(t.app);
    expect(textOf((await anonymous.get('/mentions-legales').expect(200)).text)).to.contain('ne sont pas encore renseignées');
    const res = await sendIdentity(admin, {
      name: 'Métropole de Lyon', publisher: 'Le président de la Métropole de Lyon',
      host: 'Hébergeur Exemple SAS\n20 rue du Serveur, 69003 Lyon\n04 00 00 00 00',
    });
    expect(res.status, textOf(res.text).slice(0, 300)).to.equal(303);
    const notice = textOf((await anonymous.get('/mentions-legales').expect(200)).text);
    expect(notice).to.contain('Directeur ou directrice de la publication : Le président de la Métropole de Lyon.')
      .and.contain('Hébergeur Exemple SAS').and.contain('69003 Lyon').and.not.contain('ne sont pas encore renseignées');
    const tooLong = await sendIdentity(admin, { name: 'Métropole de Lyon', host: 'x'.repeat(1001) });
    expect(tooLong.status).to.equal(422);
    expect(tooLong.text).to.contain('id="host-error"');
  });
});
