import { expect } from 'chai';
import { listFiches } from '../src/data/fiches';
import { getHomologation } from '../src/data/homologations';
import { createMeeting, getMeeting, meetingFiches } from '../src/data/meetings';
import { AGENDA_FICHES_PER_PAGE, agendaWindow } from '../src/domain/agenda-pages';
import { liveAgenda } from '../src/services/agenda';
import { aFiche } from './builders';
import { ACCOUNTS, type Agent, ENGINE, freshApp, NOW, postForm, signIn, type TestApp, textOf } from './helpers';

// The agenda on screen, a page at a time: an agenda of more than AGENDA_FICHES_PER_PAGE fiches opens on a page of its
// own (the opening sections, the presentation of the plan linking each fiche to its page), then details its fiches
// AGENDA_FICHES_PER_PAGE a page, the questions after the last; the PDF stays whole (test/agenda-pdf.test.ts: a 50-fiche
// agenda, every fiche in it, each entry of its contents giving the fiche's page).

const PER_PAGE = AGENDA_FICHES_PER_PAGE;

/** The fiche numbers an agenda page details, in order (their sections' anchors). */
const detailed = (html: string) => [...html.matchAll(/<section class="app-agenda-section"[^>]* id="fiche-(\d+)"/g)].map((m) => Number(m[1]));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const pageCount = (html: string) => Number(/Page \d+ sur (\d+)/.exec(textOf(html))?.[1] ?? 1);

async function nextMeeting(t: TestApp) {
  const rows = await t.db('meetings').where({ plan_id: 1 }).orderBy('starts_at').select('id', 'held_at');
  return Number(rows.find((r) => !r.held_at).id);
}

/** The demo's instances of one commune in the demo homologation's perimeter. */
async function instancesOf(t: TestApp, commune: string): Promise<number[]> {
  const rows = await t.db('instances').join('communes', 'communes.id', 'instances.commune_id')
    .join('plan_instances', 'plan_instances.instance_id', 'instances.id').where('plan_instances.plan_id', 1).where('communes.name', commune)
    .select('instances.id');
  return rows.map((r) => Number(r.id));
}

describe(`the agenda on screen, a page at a time (${ENGINE})`, function () {
  this.timeout(120_000);
  let t: TestApp;
  let editor: Agent;
  let agent: Agent;
  let meeting: number;
  let total: number;
  /** Fiches touching only Vénissieux's instances: never on a page of Villeurbanne's agent. */
  const elsewhere: number[] = [];
  let url: string;

  before(async () => {
    t = await freshApp();
    editor = await signIn(t.app, ACCOUNTS.editor);
    agent = await signIn(t.app, ACCOUNTS.commune);
    const villeurbanne = await instancesOf(t, 'Villeurbanne');
    const venissieux = await instancesOf(t, 'Vénissieux');
    expect(villeurbanne, 'the demo has Villeurbanne instances').not.to.be.empty;
    expect(venissieux, 'the demo has Vénissieux instances').not.to.be.empty;
    // the demo's few fiches, then enough for several pages: half on Villeurbanne's instances, half on Vénissieux's
    for (let i = 0; i < 22; i++) await aFiche().inHomologation(1).titled(`Fiche de Villeurbanne ${i + 1}`).withSteps(2).onInstances(villeurbanne[0]!).insert(t.db);
    for (let i = 0; i < 23; i++) {
      const id = await aFiche().inHomologation(1).titled(`Fiche de Vénissieux ${i + 1}`).withSteps(2).onInstances(venissieux[0]!).insert(t.db);
      elsewhere.push(Number((await t.db('fiches').where({ id }).first()).number));
    }
    meeting = await nextMeeting(t);
    url = `/homologations/1/seances/${meeting}/ordre-du-jour`;
    total = Number((await t.db('fiches').where({ plan_id: 1 }).count({ n: '*' }).first())!.n);
    expect(total).to.be.greaterThan(2 * PER_PAGE);
  });
  after(() => t.close());

  it('opens on the opening sections, the presentation of the plan linking each fiche to the page of its detail', async () => {
    const res = await editor.get(url).expect(200);
    const pages = 1 + Math.ceil(total / PER_PAGE);
    const text = textOf(res.text);
    expect(text).to.contain(`Page 1 sur ${pages}`).and.contain('Ordre du jour complet : télécharger le PDF');
    expect(res.text).to.contain(`href="${url}.pdf"`);
    expect(detailed(res.text), 'no fiche detailed on the opening page').to.deep.equal([]);
    expect(text).to.contain('Ordre du jour proposé').and.contain("Périmètre de l'homologation").and.contain("Présentation du plan d'action");
    expect(res.text, 'the questions come after the fiches, on the last page').not.to.contain('id="section-questions"');
    // every fiche of the plan listed, each linked to its page and its heading there
    expect(res.text).to.contain('href="?page=2#fiche-1"').and.contain(`href="?page=2#fiche-${PER_PAGE}"`).and.contain(`href="?page=3#fiche-${PER_PAGE + 1}"`)
      .and.contain(`href="?page=${pages}#fiche-${total}"`);
    // the page's title says which page it is; the pagination is a navigation landmark named in French
    expect(res.text).to.match(new RegExp(`<title>Ordre du jour — [^<]+ — page 1 sur ${pages}`));
    expect(res.text).to.contain(`<nav role="navigation" class="fr-pagination`).and.contain(`aria-label="Pages de l&#39;ordre du jour"`)
      .and.contain('aria-current="page" title="Page 1"').and.contain(`href="${url}?page=2">Page suivante`);
  });

  it('details the fiches a page at a time, the next page the next fiches, the questions after the last', async () => {
    const pages = 1 + Math.ceil(total / PER_PAGE);
    const second = await editor.get(`${url}?page=2`).expect(200);
    expect(detailed(second.text)).to.deep.equal(range(1, PER_PAGE));
    expect(textOf(second.text)).to.contain(`Page 2 sur ${pages}`).and.contain(`le détail des fiches n°1 à n°${PER_PAGE}`).and.contain('Ordre du jour complet');
    expect(second.text).to.contain(`href="${url}">Page précédente`).and.contain(`href="${url}?page=3">Page suivante`).and.contain(`href="${url}?page=${pages}">Dernière page`);
    const third = await editor.get(`${url}?page=3`).expect(200);
    expect(detailed(third.text)).to.deep.equal(range(PER_PAGE + 1, 2 * PER_PAGE));
    expect(textOf(third.text)).not.to.contain('Ordre du jour proposé');
    const last = await editor.get(`${url}?page=${pages}`).expect(200);
    expect(detailed(last.text)).to.deep.equal(range((pages - 2) * PER_PAGE + 1, total));
    expect(last.text).to.contain('id="section-questions"');
    expect(textOf(last.text)).to.contain('puis « Questions diverses »');
    expect(last.text).to.contain('aria-disabled="true" role="link">Page suivante');
    // all pages together detail every fiche once
    const all: number[] = [];
    for (let p = 1; p <= pages; p++) all.push(...detailed((await editor.get(`${url}?page=${p}`).expect(200)).text));
    expect(all).to.deep.equal(range(1, total));
  });

  it('details a fiche on its page as the whole agenda does', async () => {
    const plan = (await getHomologation(t.db, 1))!;
    const m = (await getMeeting(t.db, meeting))!;
    const whole = await liveAgenda(t.db, plan, m, NOW);
    const outline = await meetingFiches(t.db, m, null);
    const window = agendaWindow(outline.map((f) => f.number), 3);
    const only = new Set(outline.filter((f) => window.numbers.includes(f.number)).map((f) => f.id));
    const part = await liveAgenda(t.db, plan, m, NOW, { outline, only });
    const fiches = (a: typeof whole) => a.sections.flatMap((s) => (s.key === 'fiche' ? [s] : []));
    expect(fiches(part).map((s) => s.fiche.number)).to.deep.equal(window.numbers);
    expect(fiches(part)).to.deep.equal(fiches(whole).filter((s) => window.numbers.includes(s.fiche.number)));
    // the opening sections the same, the presentation of the plan listing every fiche
    const opening = (a: typeof whole) => a.sections.filter((s) => s.key !== 'fiche');
    expect(opening(part)).to.deep.equal(opening(whole));
  });

  it('shows the last page, saying so, for a page beyond it; refuses a page that is not a number', async () => {
    const pages = 1 + Math.ceil(total / PER_PAGE);
    const beyond = await editor.get(`${url}?page=${pages + 5}`).expect(200);
    expect(textOf(beyond.text)).to.contain(`La page ${pages + 5} de l'ordre du jour n'existe pas : il compte ${pages} pages. Voici la dernière.`);
    expect(detailed(beyond.text)).to.deep.equal(range((pages - 2) * PER_PAGE + 1, total));
    for (const bad of ['abc', '0', '-2', '1.5']) {
      const res = await editor.get(`${url}?page=${encodeURIComponent(bad)}`).expect(400);
      expect(textOf(res.text)).to.contain(`Numéro de page invalide : « ${bad} »`);
    }
  });

  it('goes to the page of a fiche asked for by its number, and says when the agenda does not detail it', async () => {
    const jump = await editor.get(`${url}?fiche=${PER_PAGE + 7}`).expect(303);
    expect(jump.headers.location).to.equal(`${url}?page=3#fiche-${PER_PAGE + 7}`);
    const missing = await editor.get(`${url}?fiche=999&page=2`).expect(404);
    expect(textOf(missing.text)).to.contain("La fiche n°999 n'est pas détaillée dans cet ordre du jour.");
    expect(missing.text).to.contain('aria-describedby="fiche-error"');
    expect(detailed(missing.text), 'the page asked for, with the error').to.deep.equal(range(1, PER_PAGE));
    const typo = await editor.get(`${url}?fiche=douze`).expect(400);
    expect(textOf(typo.text)).to.contain('Saisissez le numéro de la fiche, par exemple 12.');
  });

  it("never shows a commune's agent another commune's fiche, on any page; its pages count its own fiches", async () => {
    const communeId = Number((await t.db('users').where({ email: ACCOUNTS.commune }).first()).commune_id);
    const own = (await listFiches(t.db, 1, communeId)).map((f) => f.number);
    expect(own.length, 'enough fiches for several pages').to.be.greaterThan(PER_PAGE);
    const first = await agent.get(url).expect(200);
    const pages = pageCount(first.text);
    expect(pages).to.equal(1 + Math.ceil(own.length / PER_PAGE));
    // its presentation of the plan lists its own fiches, each linked to its page
    own.forEach((n, i) => expect(first.text, `fiche n°${n}`).to.contain(`href="?page=${2 + Math.floor(i / PER_PAGE)}#fiche-${n}"`));
    const seen: number[] = [];
    for (let p = 1; p <= pages + 1; p++) {
      const res = await agent.get(`${url}?page=${p}`).expect(200);
      const text = textOf(res.text);
      expect(text, `page ${p}`).not.to.contain('Vénissieux');
      for (const n of elsewhere) expect(res.text, `page ${p}, fiche n°${n}`).not.to.match(new RegExp(`#fiche-${n}"|id="fiche-${n}"`));
      if (p <= pages) seen.push(...detailed(res.text));
      else expect(text).to.contain(`il compte ${pages} pages`);
    }
    expect(seen).to.deep.equal(own);
    // asking for another commune's fiche by its number finds nothing
    expect(textOf((await agent.get(`${url}?fiche=${elsewhere[0]}`).expect(404)).text)).to.contain(`La fiche n°${elsewhere[0]} n'est pas détaillée`);
  });

  it('sums up the changes on the meeting page of a long agenda, each fiche linked to its detail', async () => {
    const res = await editor.get(`/homologations/1/seances/${meeting}`).expect(200);
    const text = textOf(res.text);
    expect(text).to.match(/Depuis la séance « [^»]+ », \d+ fiches? (a|ont) changé/);
    expect(text).to.contain('Fiche n°1 :').and.contain("Ordre du jour (à l'écran, par pages)");
    expect(res.text).to.match(new RegExp(`href="${url}\\?page=2#fiche-1"`));
  });

  it("reads a held meeting's pages from its frozen agenda, not from the live plan", async () => {
    const id = await createMeeting(t.db, 1, {
      title: 'Comité tenu', kind: 'suivi', startsAt: '2026-03-10T14:00', endsAt: '2026-03-10T16:00', place: '', visioUrl: '', objective: '', reminder: '',
      questions: '', coversAll: true, ficheIds: [], attendees: [],
    }, { id: 1, name: 'Test', email: 'test@example.org', role: 'editor', communeId: null }, NOW);
    const held = `/homologations/1/seances/${id}/ordre-du-jour`;
    expect((await postForm(editor, `/homologations/1/seances/${id}`, `/homologations/1/seances/${id}/tenir`, {})).status).to.equal(303);
    const moved = await t.db('fiches').where({ plan_id: 1, number: 3 }).first();
    await t.db('fiches').where({ id: moved.id }).update({ title: 'Titre changé après la séance' });
    await aFiche().inHomologation(1).titled('Fiche créée après la séance').insert(t.db);
    const after = await editor.get(`${held}?page=2`).expect(200);
    expect(detailed(after.text)).to.deep.equal(range(1, PER_PAGE));
    expect(textOf(after.text)).to.contain('ordre du jour figé');
    expect(textOf(after.text)).not.to.contain('Titre changé après la séance');
    expect(textOf(after.text)).to.contain(`Détail de la fiche action n°3 : ${moved.title}`);
    const pages = pageCount(after.text);
    expect(pages, 'the fiche created later is not in the frozen agenda').to.equal(1 + Math.ceil(total / PER_PAGE));
    const last = await editor.get(`${held}?page=${pages}`).expect(200);
    expect(textOf(last.text)).not.to.contain('Fiche créée après la séance');
    // the live agenda reads the plan as it is now
    expect(textOf((await editor.get(`${url}?page=2`).expect(200)).text)).to.contain('Titre changé après la séance');
    // the commune's agent reads the frozen agenda restricted as ever
    for (let p = 1; p <= pages; p++) {
      const res = await agent.get(`${held}?page=${p}`).expect(200);
      for (const n of elsewhere) expect(res.text, `held page ${p}, fiche n°${n}`).not.to.contain(`id="fiche-${n}"`);
    }
  });
});
