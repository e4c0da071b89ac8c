import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { expect } from 'chai';
import request from 'supertest';
import { DEMO_PASSWORD } from '../db/seeds/demo';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { extractText, getDocumentProxy } from 'unpdf';
import { anonymizeUser } from '../src/data/accounts';
import { evidenceRequiredForDone, stepHasEvidence } from '../src/data/evidence';
import { ConfigError, loadEvidenceLimits } from '../src/config';
import { contentDisposition, displayName, FILE_KIND_KEYS, sniff, TextProbe } from '../src/domain/evidence';
import { purgeExpiredEvents } from '../src/services/scheduler';
import { ACCOUNTS, type Agent, csrfOf, ENGINE, ficheIdByNumber, freshApp, NOW, signIn, type TestApp, textOf } from './helpers';

const pdf = (size: number) => Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(Math.max(0, size - 9))]);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const tempFiles = () => readdirSync(tmpdir()).filter((f) => f.startsWith('piece-')).length;

/** supertest's binary body: the bytes as they came. */
const binary = (res: { on: (e: string, f: (c?: Buffer) => void) => void }, cb: (err: Error | null, body: Buffer) => void) => {
  const parts: Buffer[] = [];
  res.on('data', (c?: Buffer) => parts.push(c!));
  res.on('end', () => cb(null, Buffer.concat(parts)));
};

describe(`evidence: documents attached to fiches, steps, notes, risks and decisions (${ENGINE})`, function () {
  let t: TestApp;
  let editor: Agent;
  let fiche1: number;
  let fiche2: number;
  const base = '/homologations/1';

  /** Sends the add form as a browser would (its page first, for the CSRF token); `.expect(status)` sends it. */
  function upload(agent: Agent, objet: string, id: number, title: string, data: Buffer | null, name = 'piece.pdf') {
    return {
      async expect(status: number) {
        const page = await agent.get(`${base}/pieces/nouvelle?objet=${objet}&id=${id}`).expect(200);
        let req = agent.post(`${base}/pieces`).field('_csrf', csrfOf(page.text)).field('objet', objet).field('id', String(id)).field('title', title);
        if (data) req = req.attach('fichier', data, name);
        const res = await req;
        expect(res.status, textOf(res.text).slice(0, 1500)).to.equal(status);
        return res;
      },
    };
  }

  const documents = async () => (await t.db('documents').count({ n: '*' }).first())!.n;
  const chunks = async () => Number((await t.db('document_chunks').count({ n: '*' }).first())!.n);
  const lastDocument = async () => Number((await t.db('documents').orderBy('id', 'desc').first()).id);

  beforeEach(async () => {
    t = await freshApp({ evidence: { maxBytes: 3 * 1024 * 1024, kinds: ['pdf', 'png', 'jpeg', 'docx', 'xlsx', 'odt', 'text', 'zip'] } });
    editor = await signIn(t.app, ACCOUNTS.editor);
    fiche1 = await ficheIdByNumber(t.db, 1);
    fiche2 = await ficheIdByNumber(t.db, 2);
  });
  afterEach(() => t.close());

  it('stores a file in chunks and gives it back byte for byte, as an attachment with its SHA-256 shown', async () => {
    const data = pdf(1_300_000);
    const res = await upload(editor, 'fiche', fiche1, 'Rapport du test d’intrusion', data, 'rapport-pentest.pdf').expect(303);
    expect(res.headers.location).to.equal(`${base}/fiches/${fiche1}#pieces`);
    const id = await lastDocument();
    expect(await chunks()).to.equal(Math.ceil(data.length / (256 * 1024)));
    const got = await editor.get(`${base}/pieces/${id}`).buffer(true).parse(binary).expect(200);
    expect(sha(got.body as Buffer)).to.equal(sha(data));
    expect(got.headers['content-type']).to.equal('application/pdf');
    expect(got.headers['content-length']).to.equal(String(data.length));
    expect(got.headers['x-content-type-options']).to.equal('nosniff');
    expect(got.headers['cache-control']).to.equal('private, no-store');
    expect(got.headers['content-disposition']).to.equal(`attachment; filename="rapport-pentest.pdf"; filename*=UTF-8''rapport-pentest.pdf`);
    const page = textOf((await editor.get(`${base}/fiches/${fiche1}`).expect(200)).text);
    expect(page).to.include('Rapport du test d’intrusion').and.include(sha(data)).and.include('1,2 Mo');
    const audit = await t.db('audit_log').where({ entity_type: 'document', entity_id: id, action: 'create' }).first();
    expect(JSON.parse(audit.after).sha256).to.equal(sha(data));
  });

  it('decides the type from the bytes: a PDF named .txt is a PDF, an executable named .pdf is refused', async () => {
    await upload(editor, 'fiche', fiche1, 'Procédure signée', pdf(2000), 'procedure.txt').expect(303);
    const id = await lastDocument();
    const got = await editor.get(`${base}/pieces/${id}`).expect(200);
    expect(got.headers['content-type']).to.equal('application/pdf');
    expect(got.headers['content-disposition']).to.include('filename="procedure.pdf"');
    const before = await documents();
    const exe = Buffer.concat([Buffer.from('MZ\x90\x00\x03\x00\x00\x00'), randomBytes(5000)]);
    const refused = await upload(editor, 'fiche', fiche1, 'Faux rapport', exe, 'rapport.pdf').expect(422);
    expect(textOf(refused.text)).to.include('Ce fichier est un programme');
    // the title typed is kept
    expect(refused.text).to.include('value="Faux rapport"');
    expect(await documents()).to.equal(before);
  });

  it('tells office documents, text and archives apart by their content', async () => {
    const docx = Buffer.from(zipSync({ '[Content_Types].xml': strToU8('<Types/>'), 'word/document.xml': strToU8('<w:document/>') }));
    const odt = Buffer.from(zipSync({ mimetype: [strToU8('application/vnd.oasis.opendocument.text'), { level: 0 }], 'content.xml': strToU8('<x/>') }));
    const zip = Buffer.from(zipSync({ 'a.txt': strToU8('bonjour') }));
    const cases: [Buffer, string, string][] = [
      [docx, 'a.bin', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
      [odt, 'b.zip', 'application/vnd.oasis.opendocument.text'],
      [zip, 'c.docx', 'application/zip'],
      [Buffer.from('Numéro;Titre\r\n1;Pare-feu\r\n'), 'd.csv', 'text/plain; charset=utf-8'],
      [Buffer.from([0x45, 0x74, 0xe9, 0x0a]), 'e.txt', 'text/plain; charset=windows-1252'],
    ];
    for (const [data, name, type] of cases) {
      await upload(editor, 'fiche', fiche1, name, data, name).expect(303);
      expect((await editor.get(`${base}/pieces/${await lastDocument()}`).expect(200)).headers['content-type'], name).to.equal(type);
    }
  });

  it('refuses an empty file, a file over the limit, a type outside the list and a missing title, storing nothing', async () => {
    const before = [await documents(), await chunks(), tempFiles()];
    expect(textOf((await upload(editor, 'fiche', fiche1, 'Vide', Buffer.alloc(0), 'vide.pdf').expect(422)).text)).to.include('Le fichier est vide');
    const big = await upload(editor, 'fiche', fiche1, 'Trop gros', pdf(3 * 1024 * 1024 + 10), 'gros.pdf').expect(422);
    expect(textOf(big.text)).to.include('dépasse la taille autorisée (3 Mo)');
    const gif = Buffer.concat([Buffer.from('GIF89a'), randomBytes(100)]);
    expect(textOf((await upload(editor, 'fiche', fiche1, 'Image', gif, 'image.gif').expect(422)).text)).to.include("Ce type de fichier n'est pas accepté");
    const binaryJunk = Buffer.from([0, 1, 2, 3, 4, 5, 0xff, 0xfe]);
    expect(textOf((await upload(editor, 'fiche', fiche1, 'Inconnu', binaryJunk, 'x.pdf').expect(422)).text)).to.include("n'est pas reconnu");
    const untitled = await upload(editor, 'fiche', fiche1, '  ', pdf(100)).expect(422);
    expect(textOf(untitled.text)).to.include('Donnez un titre à la pièce').and.include('Choisissez à nouveau le fichier');
    expect(textOf((await upload(editor, 'fiche', fiche1, 'Sans fichier', null).expect(422)).text)).to.include('Choisissez le fichier à joindre');
    await new Promise((r) => setTimeout(r, 50));
    expect([await documents(), await chunks(), tempFiles()]).to.deep.equal(before);
  });

  it('keeps a safe display name: no folder, no control characters', async () => {
    await upload(editor, 'fiche', fiche1, 'Nom piégé', pdf(500), '../../etc/pass\u202ewd.pdf').expect(303);
    const version = await t.db('document_versions').orderBy('id', 'desc').first();
    expect(version.file_name).to.equal('passwd.pdf');
    // a control character in the multipart header itself: the form is refused as unreadable, nothing is stored
    const before = await documents();
    expect(textOf((await upload(editor, 'fiche', fiche1, 'Nom piégé', pdf(500), 'a\u0007b.pdf').expect(400)).text)).to.include("n'a pas pu être lu");
    expect(await documents()).to.equal(before);
    expect(displayName('..\\..\\a\u0000b.txt')).to.equal('ab.txt');
    expect(contentDisposition('Procès-verbal "signé".pdf')).to.equal(`attachment; filename="Proces-verbal _signe_.pdf"; filename*=UTF-8''Proc%C3%A8s-verbal%20%22sign%C3%A9%22.pdf`);
  });

  it('replaces a document by a new version, keeping and listing the older ones, each downloadable', async () => {
    const v1 = pdf(1000);
    const v2 = pdf(2000);
    await upload(editor, 'risque', Number((await t.db('risks').where('plan_id', 1).orderBy('id').first()).id), 'Analyse', v1, 'analyse-v1.pdf').expect(303);
    const id = await lastDocument();
    const page = await editor.get(`${base}/pieces/${id}/versions`).expect(200);
    await editor.post(`${base}/pieces/${id}/remplacer`).field('_csrf', csrfOf(page.text)).attach('fichier', v2, 'analyse-v2.pdf').expect(303);
    const versions = await t.db('document_versions').where('document_id', id).orderBy('version');
    expect(versions.map((v) => [Number(v.version), v.file_name])).to.deep.equal([[1, 'analyse-v1.pdf'], [2, 'analyse-v2.pdf']]);
    const listed = textOf((await editor.get(`${base}/pieces/${id}/versions`).expect(200)).text);
    expect(listed).to.include('analyse-v1.pdf').and.include('analyse-v2.pdf').and.include(sha(v1)).and.include(sha(v2));
    expect(sha((await editor.get(`${base}/pieces/${id}`).buffer(true).parse(binary).expect(200)).body as Buffer)).to.equal(sha(v2));
    const old = await editor.get(`${base}/pieces/${id}/versions/${Number(versions[0].id)}`).buffer(true).parse(binary).expect(200);
    expect(sha(old.body as Buffer)).to.equal(sha(v1));
    // a version of another document under this one's address
    await editor.get(`${base}/pieces/${id}/versions/999999`).expect(404);
    // a refused replacement keeps the current version
    const again = await editor.get(`${base}/pieces/${id}/versions`).expect(200);
    const refused = await editor.post(`${base}/pieces/${id}/remplacer`).field('_csrf', csrfOf(again.text)).attach('fichier', Buffer.alloc(0), 'vide.pdf').expect(422);
    expect(textOf(refused.text)).to.include('Le fichier est vide');
    expect(await t.db('document_versions').where('document_id', id).count({ n: '*' }).first()).to.deep.include({ n: ENGINE === 'postgresql' ? '2' : 2 });
  });

  it('removes a document: audited, gone from the lists and downloads, its bytes purged with the audit retention', async () => {
    await upload(editor, 'fiche', fiche1, 'Capture de la configuration', pdf(600_000), 'capture.pdf').expect(303);
    const id = await lastDocument();
    const page = await editor.get(`${base}/pieces/${id}/versions`).expect(200);
    await editor.post(`${base}/pieces/${id}/supprimer`).type('form').send({ _csrf: csrfOf(page.text), reason: 'Mauvais fichier' }).expect(303);
    const audit = await t.db('audit_log').where({ entity_type: 'document', entity_id: id, action: 'delete' }).first();
    expect(audit.summary).to.include('Capture de la configuration');
    expect(JSON.parse(audit.after)).to.deep.equal({ reason: 'Mauvais fichier' });
    expect((await editor.get(`${base}/fiches/${fiche1}`).expect(200)).text).not.to.include(`/pieces/${id}`);
    await editor.get(`${base}/pieces/${id}`).expect(404);
    // kept until the retention runs out (12 months by default), then deleted with the round
    expect(await chunks()).to.be.greaterThan(0);
    await purgeExpiredEvents({ db: t.db, now: () => new Date('2026-09-01T00:00:00Z') });
    expect(await chunks()).to.be.greaterThan(0);
    await purgeExpiredEvents({ db: t.db, now: () => new Date('2027-06-01T00:00:00Z') });
    expect(await chunks()).to.equal(0);
    expect(await t.db('documents').where({ id }).first()).to.equal(undefined);
  });

  it('evidence of a deleted object counts as removed from the next retention round, and goes with the retention', async () => {
    const step = Number((await t.db('steps').where('fiche_id', fiche1).orderBy('id').first()).id);
    await upload(editor, 'etape', step, 'Preuve d’une étape retirée', pdf(300), 'etape.pdf').expect(303);
    const id = await lastDocument();
    await t.db('steps').where({ id: step }).delete();
    await purgeExpiredEvents({ db: t.db, now: () => NOW });
    const row = await t.db('documents').where({ id }).first();
    expect(row.removed_at).to.equal(NOW.toISOString());
    await editor.get(`${base}/pieces/${id}`).expect(404);
    await purgeExpiredEvents({ db: t.db, now: () => new Date('2027-06-01T00:00:00Z') });
    expect(await t.db('documents').where({ id }).first()).to.equal(undefined);
  });

  it("serves a commune agent only the evidence of what it sees, and never another homologation's under this one's address", async () => {
    await upload(editor, 'fiche', fiche1, 'Pièce de la fiche 1', pdf(300), 'f1.pdf').expect(303);
    const own = await lastDocument();
    await upload(editor, 'fiche', fiche2, 'Pièce de la fiche 2', pdf(300), 'f2.pdf').expect(303);
    const other = await lastDocument();
    const step2 = Number((await t.db('steps').where('fiche_id', fiche2).orderBy('id').first()).id);
    await upload(editor, 'etape', step2, 'Pièce de l’étape', pdf(300), 'e2.pdf').expect(303);
    const otherStep = await lastDocument();
    const agent = await signIn(t.app, ACCOUNTS.commune);
    await agent.get(`${base}/pieces/${own}`).expect(200);
    await agent.get(`${base}/pieces/${other}`).expect(403);
    await agent.get(`${base}/pieces/${otherStep}`).expect(403);
    await agent.get(`${base}/pieces/${other}/versions`).expect(403);
    // a commune agent does not add evidence
    await agent.get(`${base}/pieces/nouvelle?objet=fiche&id=${fiche1}`).expect(403);
    // another homologation's document under this one's address: 404
    const [row] = await t.db('plans').insert({ title: 'Autre', organisation: 'X', reminder: '', is_demo: false, description: '', created_at: new Date().toISOString() }).returning('id');
    const plan2 = Number(typeof row === 'object' ? row.id : row);
    await t.db('documents').where({ id: other }).update({ plan_id: plan2 });
    await editor.get(`${base}/pieces/${other}`).expect(404);
    // an object of another homologation cannot receive evidence here either
    await editor.get(`${base}/pieces/nouvelle?objet=fiche&id=999999`).expect(404);
  });

  it('a step, a note and a decision get their evidence; the setting "a step done requires evidence" is the homologation\'s', async () => {
    const step = Number((await t.db('steps').where('fiche_id', fiche1).orderBy('id').first()).id);
    expect(await stepHasEvidence(t.db, step)).to.equal(false);
    await upload(editor, 'etape', step, 'Preuve de l’étape', pdf(300), 'etape.pdf').expect(303);
    expect(await stepHasEvidence(t.db, step)).to.equal(true);
    const note = await t.db('progress_notes').where('fiche_id', fiche1).orderBy('id').first();
    if (note) await upload(editor, 'note', Number(note.id), 'Compte rendu', pdf(300), 'cr.pdf').expect(303);
    const fichePage = textOf((await editor.get(`${base}/fiches/${fiche1}`).expect(200)).text);
    expect(fichePage).to.include('Preuve de l’étape');
    if (note) expect(fichePage).to.include('Compte rendu');
    const decision = await t.db('signatures').where('plan_id', 1).orderBy('id', 'desc').first();
    expect(decision, 'the demo holds a signed decision').to.not.equal(undefined);
    if (decision) {
      await upload(editor, 'decision', Number(decision.id), 'Décision signée', pdf(300), 'decision.pdf').expect(303);
      expect(textOf((await editor.get(base).expect(200)).text)).to.include('Décision signée');
      expect(textOf((await editor.get(`${base}/seances`).expect(200)).text)).to.include('Décision signée');
      // a commune's staff read the conditions they may see, not the decision's full text its documents may hold
      const commune = await signIn(t.app, ACCOUNTS.commune);
      expect(textOf((await commune.get(base).expect(200)).text)).not.to.include('Décision signée');
      expect(textOf((await commune.get(`${base}/seances`).expect(200)).text)).not.to.include('Décision signée');
      await commune.get(`${base}/pieces/${await lastDocument()}`).expect(403);
    }
    expect(await evidenceRequiredForDone(t.db, 1)).to.equal(false);
    const admin = await signIn(t.app, ACCOUNTS.admin);
    const settings = await admin.get(`${base}/parametres`).expect(200);
    expect(settings.text).to.include('Une étape marquée « Fait » exige une pièce justificative');
    await admin.post(`${base}/parametres/pieces`).type('form').send({ _csrf: csrfOf(settings.text), evidenceRequiredForDone: 'oui' }).expect(303);
    expect(await evidenceRequiredForDone(t.db, 1)).to.equal(true);
    expect((await admin.get(`${base}/parametres`).expect(200)).text).to.match(/id="evidenceRequiredForDone"[^>]*checked/);
  });

  it('an upload interrupted halfway leaves nothing: no row, no chunk, no temporary file', async () => {
    const server = t.app.listen(0);
    try {
      const port = (server.address() as AddressInfo).port;
      const { cookie, token } = await rawSession(t, `${base}/pieces/nouvelle?objet=fiche&id=${fiche1}`);
      const before = [await documents(), await chunks(), tempFiles()];
      const boundary = '----piece' + randomBytes(8).toString('hex');
      const field = (name: string, value: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
      const head = field('_csrf', token) + field('objet', 'fiche') + field('id', String(fiche1)) + field('title', 'Interrompu')
        + `--${boundary}\r\nContent-Disposition: form-data; name="fichier"; filename="gros.pdf"\r\nContent-Type: application/pdf\r\n\r\n`;
      const socket = net.connect(port, '127.0.0.1');
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write(`POST ${base}/pieces HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nCookie: ${cookie}\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${2 * 1024 * 1024}\r\n\r\n`);
      socket.write(head);
      socket.write(pdf(700_000));
      await new Promise((r) => setTimeout(r, 200));
      // a temporary file was being written: the upload had really started
      expect(tempFiles()).to.be.greaterThan(before[2] as number);
      socket.destroy();
      for (let i = 0; i < 40 && tempFiles() > (before[2] as number); i++) await new Promise((r) => setTimeout(r, 50));
      expect([await documents(), await chunks(), tempFiles()]).to.deep.equal(before);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("adds evidence as the homologation lists its editors: a global viewer listed as its editor may, a viewer may not", async () => {
    const viewer = await signIn(t.app, ACCOUNTS.viewer);
    await viewer.get(`${base}/pieces/nouvelle?objet=fiche&id=${fiche1}`).expect(403);
    const viewerId = Number((await t.db('users').where({ email: ACCOUNTS.viewer }).first()).id);
    await t.db('plan_members').insert({ plan_id: 1, user_id: viewerId, role: 'editor' }).onConflict(['plan_id', 'user_id']).merge();
    await upload(viewer, 'fiche', fiche1, 'Ajoutée par un membre éditeur', pdf(300), 'membre.pdf').expect(303);
    expect((await t.db('documents').orderBy('id', 'desc').first()).title).to.equal('Ajoutée par un membre éditeur');
  });

  it('the agenda (page and PDF) lists each fiche\'s evidence; the committee dossier holds the files in pieces/', async () => {
    const data = pdf(700_000);
    await upload(editor, 'fiche', fiche1, 'Rapport du test d’intrusion', data, 'pentest.pdf').expect(303);
    const id = await lastDocument();
    const meeting = Number((await t.db('meetings').where('plan_id', 1).whereNull('held_at').orderBy('id').first()).id);
    const page = textOf((await editor.get(`${base}/seances/${meeting}/ordre-du-jour`).expect(200)).text);
    expect(page).to.include('Pièces justificatives Rapport du test d’intrusion (16/03/2026)');
    const pdfRes = await editor.get(`${base}/seances/${meeting}/ordre-du-jour.pdf`).buffer(true).parse(binary).expect(200);
    const { text } = await extractText(await getDocumentProxy(new Uint8Array(pdfRes.body as Buffer)), { mergePages: true });
    expect(text).to.include('Pièces justificatives').and.include('Rapport du test d’intrusion (16/03/2026)');
    const zip = await editor.get(`${base}/dossier.zip`).buffer(true).parse(binary).expect(200);
    const files = unzipSync(new Uint8Array(zip.body as Buffer));
    expect(sha(Buffer.from(files[`pieces/${id}-pentest.pdf`]!))).to.equal(sha(data));
    expect(strFromU8(files['LISEZMOI.txt']!)).to.include(`pieces/${id}-pentest.pdf : « Rapport du test d’intrusion »`).and.include(sha(data));
  });

  it('the personal-data export lists what a person uploaded; once the account is removed, the lists name "Utilisateur supprimé"', async () => {
    await upload(editor, 'fiche', fiche1, 'Procédure de sauvegarde', pdf(400), 'procedure.pdf').expect(303);
    const id = await lastDocument();
    const mine = JSON.parse((await editor.get('/compte/donnees').expect(200)).text);
    expect(mine.evidenceUploaded).to.deep.include({ title: 'Procédure de sauvegarde', fileName: 'procedure.pdf', uploadedAt: NOW.toISOString(), planId: 1 });
    const editorId = Number((await t.db('users').where({ email: ACCOUNTS.editor }).first()).id);
    expect(await anonymizeUser(t.db, editorId, { id: null, name: 'Tests' }, NOW)).to.equal(true);
    const admin = await signIn(t.app, ACCOUNTS.admin);
    const page = textOf((await admin.get(`${base}/pieces/${id}/versions`).expect(200)).text);
    expect(page).to.include(`par Utilisateur supprimé n°${editorId}`).and.not.include('Julien Petit');
  });

  it('downloads read the chunks a few at a time (one query per four chunks of 256 KiB), never the whole file', async () => {
    const data = pdf(3 * 1024 * 1024 - 100);
    await upload(editor, 'fiche', fiche1, 'Gros rapport', data, 'gros.pdf').expect(303);
    const id = await lastDocument();
    const queries: { sql: string }[] = [];
    const listen = (q: { sql: string }) => { if (/document_chunks/.test(q.sql)) queries.push(q); };
    t.db.on('query', listen);
    try {
      const got = await editor.get(`${base}/pieces/${id}`).buffer(true).parse(binary).expect(200);
      expect(sha(got.body as Buffer)).to.equal(sha(data));
    } finally {
      t.db.off('query', listen);
    }
    // 12 chunks: 3 reads of 4, and the read that finds no more
    expect(queries.length).to.equal(4);
    for (const q of queries) expect(q.sql).to.match(/seq.? >= .* and .*seq.? < /i);
  });
});

/** A signed-in session as a raw client would hold it: its cookie, and a CSRF token from a page. */
async function rawSession(t: TestApp, pageUrl: string): Promise<{ cookie: string; token: string }> {
  const cookiesOf = (res: request.Response) => ((res.headers['set-cookie'] ?? []) as unknown as string[]).map((c) => c.split(';')[0]).join('; ');
  const form = await request(t.app).get('/connexion').expect(200);
  const signedIn = await request(t.app).post('/connexion').set('Cookie', cookiesOf(form)).type('form')
    .send({ _csrf: csrfOf(form.text), email: ACCOUNTS.editor, password: DEMO_PASSWORD }).expect(302);
  const cookie = cookiesOf(signedIn);
  const page = await request(t.app).get(pageUrl).set('Cookie', cookie).expect(200);
  return { cookie, token: csrfOf(page.text) };
}

describe('evidence: telling a type from its bytes', () => {
  it('reads the limits from the environment, a bad value named in French', () => {
    expect(loadEvidenceLimits({})).to.deep.equal({ maxBytes: 20 * 1024 * 1024, kinds: FILE_KIND_KEYS });
    expect(loadEvidenceLimits({ EVIDENCE_MAX_MB: '5', EVIDENCE_TYPES: 'PDF, png,pdf' })).to.deep.equal({ maxBytes: 5 * 1024 * 1024, kinds: ['pdf', 'png'] });
    expect(() => loadEvidenceLimits({ EVIDENCE_TYPES: 'pdf,exe' })).to.throw(ConfigError, /EVIDENCE_TYPES doit lister des types parmi .*inconnus : « exe »/);
    expect(() => loadEvidenceLimits({ EVIDENCE_MAX_MB: '0' })).to.throw(ConfigError, /EVIDENCE_MAX_MB doit être un nombre entier entre 1 et 200/);
  });


  it('sniffs the signatures and text', () => {
    const probe = new TextProbe();
    probe.push(Buffer.from('Numéro;Libellé\n'));
    expect(probe.end()).to.equal('utf-8');
    const head = (s: string | number[]) => (typeof s === 'string' ? Buffer.from(s, 'latin1') : Buffer.from(s));
    expect(sniff(head('%PDF-1.4'), 10, null, null)).to.deep.equal({ kind: 'pdf' });
    expect(sniff(head([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), 10, null, null)).to.deep.equal({ kind: 'png' });
    expect(sniff(head([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]), 10, null, null)).to.deep.equal({ kind: 'ole' });
    expect(sniff(head('\x7fELF'), 10, null, null)).to.deep.equal({ refused: 'executable' });
    expect(sniff(head('#!/bin/sh\n'), 10, null, 'utf-8')).to.deep.equal({ refused: 'executable' });
    expect(sniff(head(''), 0, null, null)).to.deep.equal({ refused: 'empty' });
    expect(sniff(head('RIFF\0\0\0\0WEBP'), 12, null, null)).to.deep.equal({ kind: 'webp' });
  });
});
