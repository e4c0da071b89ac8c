import { expect } from 'chai';
import { ACCOUNTS, ENGINE, freshApp, postForm, signIn, type TestApp } from './helpers';

/** The error summary's links whose anchor names no element of the page (a link that leads nowhere). */
function deadAnchors(html: string): string[] {
  const summary = /<div class="fr-alert fr-alert--error[^"]*"[^>]*id="erreurs"[\s\S]*?<\/div>/.exec(html)?.[0] ?? '';
  const targets = [...summary.matchAll(/href="#([^"]+)"/g)].map((m) => m[1]!);
  expect(targets, 'the summary lists the errors').not.to.be.empty;
  return targets.filter((id) => !html.includes(`id="${id}"`));
}

describe(`the error summary's links lead to the fields (${ENGINE})`, function () {
  this.timeout(30_000);
  let t: TestApp;
  before(async () => { t = await freshApp(); });
  after(async () => { await t.close(); });

  it('on the fiche form submitted empty', async () => {
    const agent = await signIn(t.app, ACCOUNTS.editor);
    const res = await postForm(agent, '/homologations/1/fiches/nouvelle', '/homologations/1/fiches', {
      _action: 'save', number: '', title: '', finding: '', targetDate: '', status: '', scope: '',
      steps: [{ id: '', position: '1', label: '', status: 'fait' }], owners: [{ teamId: '', serviceId: '' }],
    });
    expect(res.status).to.equal(422);
    expect(deadAnchors(res.text)).to.deep.equal([]);
  });

  it('on the account form submitted empty', async () => {
    const admin = await signIn(t.app, ACCOUNTS.admin);
    const res = await postForm(admin, '/admin/utilisateurs/nouveau', '/admin/utilisateurs', { name: '', email: '', role: '', communeId: '' });
    expect(res.status).to.equal(422);
    expect(deadAnchors(res.text)).to.deep.equal([]);
  });
});
