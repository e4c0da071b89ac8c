import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { extractText, getDocumentProxy, getMeta } from 'unpdf';
import { fontsOf } from '../src/agenda/pdf';
import { woffToSfnt } from '../src/agenda/pdf-fonts';
import { aFiche } from './builders';
import { ACCOUNTS, type Agent, freshApp, signIn, type TestApp } from './helpers';

// The agenda PDF laid out as a committee deck: page counts, table of contents, no orphan heading or leftover line,
// tagged for screen readers (PDF/UA). The demo agenda ran to 17-18 pages before, 110 for 50 fiches.

/** The demo homologation's next meeting to prepare: its agenda details every fiche of the plan. */
async function nextMeeting(t: TestApp) {
  const rows = await t.db('meetings').where({ plan_id: 1 }).orderBy('starts_at').select('id', 'held_at');
  return Number(rows.find((r) => !r.held_at).id);
}

async function pdfOf(agent: Agent, meeting: number) {
  const res = await agent.get(`/homologations/1/seances/${meeting}/ordre-du-jour.pdf`).expect(200).buffer(true).parse((r, cb) => {
    const chunks: Buffer[] = [];
    r.on('data', (c: Buffer) => chunks.push(c));
    r.on('end', () => cb(null, Buffer.concat(chunks)));
  });
  const bytes = res.body as Buffer;
  const doc = await getDocumentProxy(new Uint8Array(bytes));
  const { totalPages, text } = await extractText(doc, { mergePages: false });
  // each page without its footer
  const bodies = text.map((p) => p.split('\n').filter((line) => !/^Séance du .* Page \d+ \/ \d+$/.test(line)).join('\n').trim());
  return { bytes, doc, totalPages, text, bodies };
}

/** The page (1-based) of each fiche's heading, in order, then the page after the last fiche's section. */
function fichePages(bodies: string[], count: number) {
  return Array.from({ length: count }, (_, i) => bodies.findIndex((b) => b.startsWith(`Détail de la fiche action n°${i + 1} :`)) + 1);
}

function expectDeckLayout(pdf: Awaited<ReturnType<typeof pdfOf>>, fiches: number) {
  const starts = fichePages(pdf.bodies, fiches);
  expect(starts, 'every fiche starts a page').not.to.include(0);
  const ends = [...starts.slice(1), pdf.bodies.findIndex((b) => b.startsWith('Questions diverses')) + 1];
  starts.forEach((start, i) => expect(ends[i]! - start, `fiche n°${i + 1} on one or two pages`).to.be.within(1, 2));
  pdf.bodies.forEach((body, i) => {
    const lines = body.split('\n');
    expect(lines.length, `page ${i + 1} holds more than a leftover line: ${body}`).to.be.greaterThan(1);
    expect(lines.at(-1), `page ${i + 1} does not end on a heading`).not.to.match(/^(Constat réalisé|Actions|Conclusion de l'étude|Effets de bord pressentis|Depuis la dernière séance|Rappel|Reste à faire|Le travail s'est déroulé ainsi|Sommaire)$/);
  });
}

describe('agenda PDF', () => {
  let t: TestApp;
  let editor: Agent;
  beforeEach(async () => {
    t = await freshApp();
    editor = await signIn(t.app, ACCOUNTS.editor);
  });
  afterEach(() => t.close());

  it('lays the demo agenda out as a deck: a cover with the contents, a fiche on one or two pages', async () => {
    const pdf = await pdfOf(editor, await nextMeeting(t));
    const fiches = Number(await t.db('fiches').where({ plan_id: 1 }).count({ n: '*' }).first().then((r) => r?.n));
    // 12 pages for the 5 demo fiches (18 before the deck layout)
    expect(pdf.totalPages).to.be.at.most(2 * fiches + 6).and.at.most(14);
    expectDeckLayout(pdf, fiches);
    const cover = pdf.bodies[0]!;
    expect(cover).to.contain('Comité de pilotage').and.contain('Sommaire');
    const starts = fichePages(pdf.bodies, fiches);
    for (let n = 1; n <= fiches; n++) {
      // each entry of the contents gives the page where its fiche starts
      expect(cover).to.match(new RegExp(`Fiche action n°${n} : [^\\n]+ ${starts[n - 1]}(\\n|$)`));
    }
    for (const entry of ['Ordre du jour proposé', "Périmètre de l'homologation", 'Rappel du calendrier', 'Questions diverses']) {
      expect(cover).to.match(new RegExp(`${entry} \\d+(\\n|$)`));
    }
  });

  it('keeps a 50-fiche agenda to at most two pages a fiche', async function () {
    this.timeout(20000);
    const existing = Number(await t.db('fiches').where({ plan_id: 1 }).count({ n: '*' }).first().then((r) => r?.n));
    for (let i = existing; i < 50; i++) {
      await aFiche().inHomologation(1).late().withSteps(4).withSideEffect('faible', 'Coupure courte du service pendant la bascule.').insert(t.db);
    }
    const pdf = await pdfOf(editor, await nextMeeting(t));
    // 61 pages (110 before), the contents over two
    expect(pdf.totalPages).to.be.at.most(2 * 50 + 8).and.at.most(70);
    expectDeckLayout(pdf, 50);
    expect(pdf.text.join('\n')).to.contain('Fiche action n°50 : ');
    // the whole agenda, when the page on screen details its fiches a few at a time (test/agenda-pages.test.ts); the
    // contents, laid out before the fiches but written once they are, give each fiche's page
    const starts = fichePages(pdf.bodies, 50);
    const contents = pdf.bodies.slice(0, starts[0]! - 1).join('\n');
    starts.forEach((page, i) => expect(contents, `contents, fiche n°${i + 1}`).to.match(new RegExp(`Fiche action n°${i + 1} : [^\\n]+ ${page}(\\n|$)`)));
  });

  it('is a tagged PDF (PDF/UA) in French, with its title shown', async () => {
    const pdf = await pdfOf(editor, await nextMeeting(t));
    const raw = pdf.bytes.toString('latin1');
    expect(raw).to.match(/\/MarkInfo \d+ 0 R|\/MarkInfo <<\s*\/Marked true/);
    expect(raw).to.contain('/Marked true').and.match(/\/StructTreeRoot \d+ 0 R/);
    expect(raw).to.contain('/Lang (fr-FR)').and.contain('/DisplayDocTitle true').and.contain('<pdfuaid:part>1</pdfuaid:part>');
    expect(raw).to.match(/\/S \/H1/).and.match(/\/S \/TOC\b/);
    const { info } = await getMeta(pdf.doc);
    expect((info as { Title?: string }).Title).to.contain('ordre du jour').and.contain('Comité de pilotage');
  });

  it("embeds the neutral identity's font for an organisation other than the State, Marianne for a State service only", async () => {
    const neutral = (await pdfOf(editor, await nextMeeting(t))).bytes.toString('latin1');
    expect(neutral).to.match(/\/BaseFont \/[A-Z]{6}\+AtkinsonHyperlegible/).and.not.contain('Marianne');
    await t.db('organisation_identity').where({ id: 1 }).update({ nature: 'etat' });
    const state = (await pdfOf(editor, await nextMeeting(t))).bytes.toString('latin1');
    expect(state).to.match(/\/BaseFont \/[A-Z]{6}\+Marianne/).and.not.contain('Atkinson');
  });
});

describe('the PDF machinery', () => {
  it('unwraps the WOFF fonts into the sfnt they carry: each table whole, its checksum as recorded', () => {
    for (const dsfr of [false, true]) {
      const { regular } = fontsOf({ dsfr, accent: '#000091' });
      const sfnt = woffToSfnt(readFileSync(regular));
      const tables = sfnt.readUInt16BE(4);
      expect(tables).to.be.greaterThan(5);
      for (let i = 0; i < tables; i++) {
        const at = 12 + 16 * i;
        const tag = sfnt.toString('latin1', at, at + 4);
        const [checksum, offset, length] = [sfnt.readUInt32BE(at + 4), sfnt.readUInt32BE(at + 8), sfnt.readUInt32BE(at + 12)];
        expect(offset % 4, tag).to.equal(0);
        // the checksum of a table, its 'head' counted without its checkSumAdjustment
        const data = Buffer.concat([sfnt.subarray(offset, offset + length), Buffer.alloc((4 - (length % 4)) % 4)]);
        if (tag === 'head') data.writeUInt32BE(0, 8);
        let sum = 0;
        for (let k = 0; k < data.length; k += 4) sum = (sum + data.readUInt32BE(k)) >>> 0;
        expect(sum, `${tag} of ${path.basename(regular)}`).to.equal(checksum);
      }
    }
  });

  it('loads pdfkit with the first PDF, never with the server: no module imports it statically', () => {
    const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => {
      const p = path.join(dir, f);
      return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
    });
    const offenders = files(path.resolve('src')).filter((f) => /^import\s+(?!type\b)[^;]*from\s+'(pdfkit|fontkit)'/m.test(readFileSync(f, 'utf8')));
    expect(offenders).to.deep.equal([]);
  });
});
