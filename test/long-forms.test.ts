import { expect } from 'chai';
import type { Knex } from 'knex';
import { createApp } from '../src/app';
import { prepareDatabase } from '../src/bootstrap';
import { aHomologation, aUser, signedIn } from './builders';
import { ACCOUNTS, type Agent, csrfOf, emptyDatabase, ficheIdByNumber, formBody, freshApp, NOW, postForm, signIn, type TestApp, TEST_PASSWORDS } from './helpers';

/** Every button of a page with its name, value and formaction. */
function buttons(html: string) {
  return [...html.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/g)].map(([, attrs, label]) => ({
    name: /\bname="([^"]*)"/.exec(attrs!)?.[1] ?? '',
    value: /\bvalue="([^"]*)"/.exec(attrs!)?.[1] ?? '',
    formaction: /\bformaction="([^"]*)"/.exec(attrs!)?.[1] ?? null,
    label: label!.trim(),
  }));
}

/** The fields of the first form of a page's main content as a browser would send them (text inputs, textareas, selected options, ticked boxes). */
function fieldsOf(html: string): Record<string, string | string[]> {
  const start = html.indexOf('<form method="post"', html.indexOf('<main'));
  const form = html.slice(start, html.indexOf('</form>', start));
  const fields: [string, string][] = [];
  for (const [tag] of form.matchAll(/<input\b[^>]*>/g)) {
    const name = /\bname="([^"]*)"/.exec(tag)?.[1];
    if (!name) continue;
    const type = /\btype="([^"]*)"/.exec(tag)?.[1] ?? 'text';
    if ((type === 'checkbox' || type === 'radio') && !/\bchecked\b/.test(tag)) continue;
    fields.push([name, /\bvalue="([^"]*)"/.exec(tag)?.[1] ?? (type === 'checkbox' ? 'on' : '')]);
  }
  for (const [, attrs, text] of form.matchAll(/<textarea\b([^>]*)>([\s\S]*?)<\/textarea>/g)) fields.push([/\bname="([^"]*)"/.exec(attrs!)![1]!, text!]);
  for (const [, attrs, options] of form.matchAll(/<select\b([^>]*)>([\s\S]*?)<\/select>/g)) {
    const selected = /<option value="([^"]*)"[^>]*\bselected\b/.exec(options!) ?? /<option value="([^"]*)"/.exec(options!);
    fields.push([/\bname="([^"]*)"/.exec(attrs!)![1]!, selected?.[1] ?? '']);
  }
  const unescape = (v: string) => v.replace(/&#34;|&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of fields) {
    const value = unescape(v);
    const prev = out[k];
    out[k] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

/** Presses a button of the form on `html` as a browser does: every field, the button's name and value, to its formaction. */
async function press(agent: Agent, html: string, button: { name: string; value: string; formaction: string | null }) {
  const [path, fragment] = button.formaction!.split('#');
  const fields = { ...fieldsOf(html), [button.name]: button.value };
  const body = Object.entries(fields).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${encodeURIComponent(k)}=${encodeURIComponent(x)}`)).join('&');
  const res = await agent.post(path!).type('form').send(body);
  return { res, fragment: fragment! };
}

const hasId = (html: string, id: string) => new RegExp(`\\bid="${id}"`).test(html);

describe('long forms: back to the row a button added or moved', () => {
  let t: TestApp;
  let editor: Agent;
  beforeEach(async () => {
    t = await freshApp();
    editor = await signIn(t.app, ACCOUNTS.editor);
  });
  afterEach(() => t.close());

  for (const which of ['new', 'edit'] as const) {
    it(`the ${which === 'new' ? 'new' : 'edited'} fiche's add and move buttons return to the row they add or move`, async () => {
      const url = which === 'new' ? '/homologations/1/fiches/nouvelle' : `/homologations/1/fiches/${await ficheIdByNumber(t.db, 1)}/modifier`;
      const action = which === 'new' ? '/homologations/1/fiches' : url.replace('/modifier', '');
      const page = (await editor.get(url).expect(200)).text;
      const formButtons = buttons(page).filter((b) => b.name === '_action' && b.value !== 'save');
      const values = formButtons.map((b) => b.value);
      expect(values).to.include.members(['add_steps', 'add_counts', 'add_owners', 'add_effects']);
      if (which === 'edit') expect(values).to.include('down:0');
      for (const button of formButtons) {
        expect(button.formaction, button.label).to.match(new RegExp(`^${action}#[\\w-]+$`));
        const { res, fragment } = await press(editor, page, button);
        expect(res.status, button.label).to.equal(200);
        expect(hasId(res.text, fragment), `${button.label} → #${fragment}`).to.equal(true);
        // the row it lands on is the new (blank) one, or the moved step
        const field = new RegExp(`<(?:input|select|textarea)\\b[^>]*\\bid="${fragment}"[^>]*>`).exec(res.text)![0];
        if (button.value.startsWith('add_')) expect(field, button.label).to.not.match(/value="[^"]+"/);
      }
    });
  }

  it('a step moved down is found at its new place, under the fragment of its button', async () => {
    const id = await ficheIdByNumber(t.db, 1);
    const page = (await editor.get(`/homologations/1/fiches/${id}/modifier`).expect(200)).text;
    const first = /id="steps-0-label"[^>]*value="([^"]*)"/.exec(page)?.[1] ?? /value="([^"]*)"[^>]*id="steps-0-label"/.exec(page)![1];
    const down = buttons(page).find((b) => b.value === 'down:0')!;
    const { res, fragment } = await press(editor, page, down);
    expect(fragment).to.equal('steps-1-label');
    expect(new RegExp(`<input[^>]*id="steps-1-label"[^>]*>`).exec(res.text)![0]).to.contain(`value="${first}"`);
  });

  it('a filled blank row does not shift the new row away from the fragment', async () => {
    const page = (await editor.get('/homologations/1/fiches/nouvelle').expect(200)).text;
    const add = buttons(page).find((b) => b.value === 'add_steps')!;
    const fields = { ...fieldsOf(page), 'steps[0][label]': 'Première action', 'steps[1][label]': 'Deuxième action', _action: 'add_steps' };
    const res = await editor.post('/homologations/1/fiches').type('form').send(formBody(fields)).expect(200);
    const fragment = add.formaction!.split('#')[1]!;
    expect(new RegExp(`<input[^>]*id="${fragment}"[^>]*>`).exec(res.text)![0]).to.contain('value=""');
  });

  it('the meeting form offers three blank guest rows, and more that the button returns to', async () => {
    const page = (await editor.get('/homologations/1/seances/nouvelle').expect(200)).text;
    for (const i of [0, 1, 2]) expect(hasId(page, `guests-${i}-name`)).to.equal(true);
    const add = buttons(page).find((b) => b.value === 'add_guests')!;
    expect(add.label).to.contain('Ajouter des lignes');
    expect(add.formaction).to.equal('/homologations/1/seances#guests-3-name');
    const { res, fragment } = await press(editor, page, add);
    expect(res.status).to.equal(200);
    expect(hasId(res.text, fragment)).to.equal(true);
    expect(hasId(res.text, 'guests-5-name')).to.equal(true);
    // nothing saved by adding rows
    expect(res.text).to.contain('Nouvelle séance');
  });

  it('the meeting page opens on a summary whose links reach its sections, each with a way back', async () => {
    const row = await t.db('meetings').where({ plan_id: 1 }).whereNull('held_at').orderBy('starts_at').first();
    const html = (await editor.get(`/homologations/1/seances/${row.id}`).expect(200)).text;
    const nav = /<nav[^>]*class="fr-summary[^"]*"[^>]*>([\s\S]*?)<\/nav>/.exec(html)![1]!;
    const targets = [...nav.matchAll(/href="#([^"]+)"/g)].map((m) => m[1]!);
    expect(targets).to.include.members(['participants', 'decisions', 'releve', 'apercu']);
    for (const id of targets) expect(hasId(html, id), id).to.equal(true);
    expect(html.match(/href="#sommaire"/g)!.length).to.be.greaterThan(3);
    expect(hasId(html, 'sommaire')).to.equal(true);
  });
});

describe('long forms: a fiche with no team to choose', () => {
  let db: Knex;
  let drop: () => Promise<void>;
  let app: ReturnType<typeof createApp>;
  let planId: number;
  beforeEach(async () => {
    const empty = await emptyDatabase('no-team');
    drop = empty.drop;
    db = empty.open();
    await prepareDatabase(db, { demo: false }, NOW, TEST_PASSWORDS);
    // no second factor to enrol in for these tests' accounts
    await db('security_settings').where('id', 1).update({ totp_roles: '' });
    planId = await aHomologation().insert(db);
    app = createApp({ db, config: { ...empty.config, demo: false }, now: () => NOW, passwords: TEST_PASSWORDS });
  });
  afterEach(async () => {
    await db.destroy();
    await drop();
  });

  it('says so and links an admin to the teams, instead of an empty list', async () => {
    const admin = await signedIn({ app, db }, await aUser().withRole('admin').insert(db));
    const html = (await admin.get(`/homologations/${planId}/fiches/nouvelle`).expect(200)).text;
    expect(html).to.contain('href="/admin/equipes"');
    expect(html).to.contain("Aucune équipe n'est encore déclarée");
    expect(hasId(html, 'owners-0-teamId')).to.equal(false);
    expect(csrfOf(html)).to.be.a('string');
  });

  it('points the error summary of a fiche saved without any team at the message that says why', async () => {
    const admin = await signedIn({ app, db }, await aUser().withRole('admin').insert(db));
    const res = await postForm(admin, `/homologations/${planId}/fiches/nouvelle`, `/homologations/${planId}/fiches`, {
      number: '1', title: 'Première fiche', finding: '', targetDate: '2026-10-31', status: 'non_demarre', scope: 'all', action: 'save',
    });
    expect(res.status).to.equal(422);
    const summary = res.text.slice(res.text.indexOf('Le formulaire contient'));
    expect(summary).to.contain('href="#owners-none"');
    for (const [, id] of res.text.slice(0, res.text.indexOf('</ul>', res.text.indexOf('Le formulaire contient'))).matchAll(/href="#([\w-]+)"/g)) {
      expect(hasId(res.text, id!), id).to.equal(true);
    }
  });
});
