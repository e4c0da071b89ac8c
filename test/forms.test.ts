/**
 * The forms without HTTP: what a body gives (typed data, or one French message per field and the typed values to
 * show again), for parseForm and for each form module the routes read.
 */
import { expect } from 'chai';
import { z } from 'zod';
import type { Instance, Service } from '../src/data/referentials';
import { DEFAULT_SECTION_ORDER } from '../src/domain/agenda';
import { CONTACT_TAKEN, contactEditForm, contactForm } from '../src/web/forms/contact';
import { emptyDecisionValues, readDecisionForm, validateDecision } from '../src/web/forms/decision';
import { applyFormButton, emptyFicheValues, newFicheValues, readFicheForm } from '../src/web/forms/fiche';
import { emailAddress, parseForm, requiredText } from '../src/web/forms/fields';
import {
  homologationForm, homologationSettingsForm, memberForm, memberRoleForm, PERIMETER_GONE, readHomologationForm, readPerimeter, renewalForm,
} from '../src/web/forms/homologation';
import { EXPIRY_MONTHS_ERROR, readDigestSendForm, readMailSettingsForm } from '../src/web/forms/mail-settings';
import { NOT_ON_AGENDA, readMeetingDecision, readSectionMove, recordForm } from '../src/web/forms/meeting';
import { readJournalFilter } from '../src/web/forms/journal';
import { noteForm } from '../src/web/forms/note';
import { readOutboxQuery } from '../src/web/forms/outbox';

const INVALID_EMAIL = 'Saisissez une adresse électronique valide (par exemple prenom.nom@exemple.fr).';

/** Asserts a refused form and hands its errors and values on. */
function refused<F extends { ok: boolean }>(form: F): Extract<F, { ok: false }> {
  expect(form.ok, JSON.stringify(form)).to.equal(false);
  return form as Extract<F, { ok: false }>;
}
function accepted<F extends { ok: boolean }>(form: F): Extract<F, { ok: true }> {
  expect(form.ok, JSON.stringify(form)).to.equal(true);
  return form as Extract<F, { ok: true }>;
}

describe('forms', () => {
  describe('parseForm', () => {
    const schema = z.object({ name: requiredText(10, 'Saisissez le nom.'), age: z.string().regex(/^\d+$/, { error: 'Saisissez un nombre.' }).transform(Number) });

    it('gives the typed data of a valid body, and the values as typed', () => {
      const form = accepted(parseForm(schema, { name: '  Inès ', age: '42', ignored: 'x' }));
      expect(form.data).to.deep.equal({ name: 'Inès', age: 42 });
      expect(form.values).to.deep.equal({ name: '  Inès ', age: '42' });
    });

    it('gives one French message per field of a bad body, and keeps what was typed', () => {
      const form = refused(parseForm(schema, { name: '', age: 'quarante' }));
      expect(form.errors).to.deep.equal({ name: 'Saisissez le nom.', age: 'Saisissez un nombre.' });
      expect(form.values).to.deep.equal({ name: '', age: 'quarante' });
      expect(refused(parseForm(schema, { name: 'un nom bien trop long', age: '1' })).errors).to.deep.equal({ name: '10 caractères au maximum.' });
    });

    it('reads each field as one string whatever was sent: a missing field is empty, a repeated one its first value', () => {
      const form = refused(parseForm(schema, { name: ['Inès', 'Paul'], age: { x: 1 } }));
      expect(form.values).to.deep.equal({ name: 'Inès', age: '' });
      expect(refused(parseForm(schema, undefined)).values).to.deep.equal({ name: '', age: '' });
    });
  });

  describe('the one e-mail rule', () => {
    const rule = emailAddress("Saisissez l'adresse.");
    const message = (value: string) => { const r = rule.safeParse(value); return r.success ? null : r.error.issues[0]?.message; };

    it('accepts an address, trimmed', () => {
      expect(rule.parse('prenom.nom@exemple.fr')).to.equal('prenom.nom@exemple.fr');
      expect(rule.parse('  prenom.nom@exemple.fr ')).to.equal('prenom.nom@exemple.fr');
    });

    it('refuses what is not an address, with the same message everywhere', () => {
      for (const bad of ['pas-une-adresse', 'a@b', 'prenom nom@exemple.fr', 'prenom.nom@exemple .fr', '@exemple.fr']) {
        expect(message(bad), bad).to.equal(INVALID_EMAIL);
      }
    });

    it('refuses more than 254 characters, and says so', () => {
      const long = `${'a'.repeat(64)}@${'b'.repeat(187)}.fr`;
      expect(long.length).to.equal(255);
      expect(message(long)).to.equal('254 caractères au maximum.');
    });

    it("says the field's own message when it is empty", () => {
      expect(message('')).to.equal("Saisissez l'adresse.");
      expect(message('   ')).to.equal("Saisissez l'adresse.");
    });
  });

  describe('contacts', () => {
    it('reads a contact', () => {
      const form = accepted(parseForm(contactForm, { name: 'Inès Morel', email: 'ines.morel@villeurbanne.fr', function: 'DGS' }));
      expect(form.data).to.deep.equal({ name: 'Inès Morel', email: 'ines.morel@villeurbanne.fr', function: 'DGS' });
    });

    it('refuses a bad address under "email" with the shared rule (a commune\'s example), keeping the values; a missing one with its own', () => {
      const form = refused(parseForm(contactForm, { name: 'Inès Morel', email: 'pas-une-adresse' }));
      expect(form.errors).to.deep.equal({ email: 'Saisissez une adresse électronique valide (par exemple prenom.nom@commune.fr).' });
      expect(form.values).to.deep.equal({ name: 'Inès Morel', email: 'pas-une-adresse', function: '' });
      expect(refused(parseForm(contactForm, { name: '', email: '' })).errors)
        .to.deep.equal({ name: 'Saisissez le nom du contact.', email: "Saisissez l'adresse électronique du contact." });
      expect(CONTACT_TAKEN).to.match(/déjà parmi les contacts/);
    });

    it('reads the resubscribe box of the edit form as a boolean, its value kept as typed', () => {
      const ticked = accepted(parseForm(contactEditForm, { name: 'A', email: 'a@exemple.fr', resubscribe: 'on' }));
      expect(ticked.data.resubscribe).to.equal(true);
      expect(ticked.values.resubscribe).to.equal('on');
      expect(accepted(parseForm(contactEditForm, { name: 'A', email: 'a@exemple.fr' })).data.resubscribe).to.equal(false);
    });
  });

  describe('homologations', () => {
    const service = (id: number): Service => ({ id, name: `Service ${id}`, description: '', position: id });
    const instance = (id: number, serviceId: number) => ({ id, serviceId, name: `Instance ${id}` }) as Instance;
    const choices = [{ service: service(1), instances: [instance(11, 1), instance(12, 1)] }, { service: service(2), instances: [instance(21, 2)] }];

    it('reads the perimeter: the instances ticked and every instance of a service ticked, once each, in order', () => {
      const perimeter = readPerimeter({ instanceIds: ['21', '11'], serviceIds: '1' }, choices);
      expect(perimeter).to.deep.equal({ values: { instanceIds: ['21', '11'], serviceIds: ['1'] }, ids: [11, 12, 21], error: undefined });
    });

    it('refuses an instance or service the catalogue no longer holds, never dropping it silently', () => {
      expect(readPerimeter({ instanceIds: ['99'] }, choices).error).to.equal(PERIMETER_GONE);
      expect(readPerimeter({ serviceIds: ['9'] }, choices).error).to.equal(PERIMETER_GONE);
    });

    it('reads a creation with its perimeter', () => {
      const form = accepted(readHomologationForm(homologationForm, { title: ' Portail ', organisation: 'Métropole', instanceIds: '12' }, choices));
      expect(form.data).to.deep.equal({ title: 'Portail', organisation: 'Métropole', description: '', instanceIds: [12] });
    });

    it("gives the fields' and the perimeter's errors at once, keeping every value typed", () => {
      const form = refused(readHomologationForm(homologationSettingsForm, { title: '', organisation: 'Métropole', reminder: 'x'.repeat(2001), instanceIds: ['11', '99'] }, choices));
      expect(form.errors).to.deep.equal({
        title: "Saisissez le nom de l'homologation.", reminder: '2000 caractères au maximum.', instanceIds: PERIMETER_GONE,
      });
      expect(form.values).to.include({ title: '', organisation: 'Métropole', description: '' });
      expect(form.values.instanceIds).to.deep.equal(['11', '99']);
      expect(form.values.serviceIds).to.deep.equal([]);
    });

    it('reads a member and a role', () => {
      expect(accepted(parseForm(memberForm, { userId: '7', role: 'viewer' })).data).to.deep.equal({ userId: 7, role: 'viewer' });
      expect(refused(parseForm(memberForm, { userId: 'x', role: 'admin' })).errors).to.deep.equal({
        userId: 'Choisissez une personne dans la liste.', role: 'Choisissez un rôle dans la liste : équipe projet ou comité.',
      });
      expect(refused(parseForm(memberRoleForm, { role: 'owner' })).errors.role).to.equal('Choisissez un rôle dans la liste : équipe projet ou comité.');
    });

    it("reads the renewal's name", () => {
      expect(accepted(parseForm(renewalForm, { title: 'Portail 2029' })).data.title).to.equal('Portail 2029');
      expect(refused(parseForm(renewalForm, { title: ' ' })).errors).to.deep.equal({ title: 'Saisissez le nom de la nouvelle homologation.' });
    });
  });

  describe('fiches', () => {
    it("reads a note; an empty status leaves the fiche's unchanged", () => {
      expect(accepted(parseForm(noteForm, { body: 'Fait', notedOn: '2026-03-16', status: '' })).data)
        .to.deep.equal({ body: 'Fait', notedOn: '2026-03-16', status: null });
      expect(accepted(parseForm(noteForm, { body: 'Fait', notedOn: '2026-03-16', status: 'fait' })).data.status).to.equal('fait');
    });

    it('refuses a note without text, with a bad date or status, keeping the values', () => {
      const form = refused(parseForm(noteForm, { body: '', notedOn: '2026-02-30', status: 'fini' }));
      expect(form.errors).to.deep.equal({
        body: "Saisissez le point d'avancement.", notedOn: "Cette date n'existe pas.", status: 'Choisissez un avancement dans la liste.',
      });
      expect(form.values).to.deep.equal({ body: '', notedOn: '2026-02-30', status: 'fini' });
    });

    it("proposes a new fiche's number after the homologation's highest", () => {
      expect(newFicheValues([{ number: 3 }, { number: 7 }, { number: 5 }]).number).to.equal('8');
      expect(newFicheValues([]).number).to.equal('1');
    });

    it("the fiche form's buttons add a blank row or move a step without saving; saving is not one of them", () => {
      const values = readFicheForm({
        ...emptyFicheValues(1),
        steps: [{ id: '1', position: '1', label: 'Premier', status: 'fait' }, { id: '2', position: '2', label: 'Second', status: 'en_cours' }],
      });
      const moved = applyFormButton({ _action: 'up:1' }, values);
      expect(moved?.values.steps.map((s) => `${s.position}:${s.label}`)).to.deep.equal(['1:Second', '2:Premier']);
      // the blank rows shown are kept, one more where asked; a count out of 0..50 falls back to one
      expect(applyFormButton({ _action: 'add_owners', extra: { steps: '60', counts: '0', effects: '2', owners: '2' } }, values)?.extra)
        .to.deep.equal({ steps: 1, counts: 0, effects: 2, owners: 3 });
      expect(applyFormButton({ _action: 'save' }, values)).to.equal(null);
      expect(applyFormButton({}, values)).to.equal(null);
      expect(applyFormButton({ _action: 'drop_table' }, values)).to.equal(null);
    });
  });

  describe('meetings', () => {
    it("reads a decision on a fiche of the agenda, or on none", () => {
      expect(accepted(readMeetingDecision({ ficheId: '5', text: 'Validé' }, [5, 6])).data).to.deep.equal({ ficheId: 5, text: 'Validé' });
      expect(accepted(readMeetingDecision({ ficheId: '', text: 'Validé' }, [])).data).to.deep.equal({ ficheId: null, text: 'Validé' });
    });

    it('prefixes its errors like the fields\' ids, and refuses a fiche not on the agenda', () => {
      const form = refused(readMeetingDecision({ ficheId: 'x', text: '' }, [5]));
      expect(form.errors).to.deep.equal({ 'decision-ficheId': 'Choisissez une fiche dans la liste.', 'decision-text': 'Saisissez la décision.' });
      expect(form.values).to.deep.equal({ ficheId: 'x', text: '' });
      expect(refused(readMeetingDecision({ ficheId: '7', text: 'Validé' }, [5])).errors).to.deep.equal({ 'decision-ficheId': NOT_ON_AGENDA });
    });

    it('reads the record, and refuses one too long', () => {
      expect(accepted(parseForm(recordForm, { record: ' Relevé ' })).data.record).to.equal('Relevé');
      expect(refused(parseForm(recordForm, { record: 'x'.repeat(20001) })).errors).to.deep.equal({ record: '20000 caractères au maximum.' });
    });

    it("reads the agenda's move buttons, nothing else", () => {
      expect(readSectionMove({ move: 'plan:up' }, DEFAULT_SECTION_ORDER)).to.deep.equal({ key: 'plan', direction: 'up' });
      expect(readSectionMove({ move: 'plan:sideways' }, DEFAULT_SECTION_ORDER)).to.equal(null);
      expect(readSectionMove({ move: 'nope:up' }, DEFAULT_SECTION_ORDER)).to.equal(null);
      expect(readSectionMove({}, DEFAULT_SECTION_ORDER)).to.equal(null);
    });

    it("checks the authority's address with the one rule, and lets it stay empty", () => {
      const decision = (authorityEmail: string) => validateDecision(
        readDecisionForm({ ...emptyDecisionValues('2026-03-16'), outcome: 'homologuee', authority: 'Le Président', authorityEmail, conditions: [] }),
        { teamIds: new Set() },
      );
      expect(accepted(decision('')).input.authorityEmail).to.equal('');
      expect(accepted(decision(' dgs@metropole.fr ')).input.authorityEmail).to.equal('dgs@metropole.fr');
      expect(refused(decision('pas-une-adresse')).errors).to.deep.equal({ 'signature-authorityEmail': INVALID_EMAIL });
      expect(refused(decision(`${'a'.repeat(250)}@b.fr`)).errors).to.deep.equal({ 'signature-authorityEmail': '254 caractères au maximum.' });
    });
  });

  describe('mail settings', () => {
    const body = { frequency: 'monthly', weekday: '1', week: '1', time: '09:00', alertReminderDays: '7', expiryReminderMonths: '6, 3,1,0' };

    it('reads the settings: the alerts box as a boolean, the thresholds as months', () => {
      const form = accepted(readMailSettingsForm({ ...body, alertsEnabled: 'on' }, [6]));
      expect(form.data).to.deep.include({ frequency: 'monthly', weekday: 1, time: '09:00', alertsEnabled: true, alertReminderDays: 7 });
      expect(form.data.expiryReminderMonths).to.deep.equal([6, 3, 1, 0]);
      expect(accepted(readMailSettingsForm(body, [6])).data.alertsEnabled).to.equal(false);
    });

    it('keeps the thresholds when the form has no such field (a page older than the setting)', () => {
      const { expiryReminderMonths: _omitted, ...older } = body;
      const form = accepted(readMailSettingsForm(older, [12, 1]));
      expect(form.data.expiryReminderMonths).to.deep.equal([12, 1]);
      expect(form.values.expiryReminderMonths).to.equal('12,1');
    });

    it('refuses bad values under their fields, keeping them as typed', () => {
      const form = refused(readMailSettingsForm({ ...body, time: '25:00', alertReminderDays: '91', expiryReminderMonths: 'six' }, [6]));
      expect(form.errors).to.deep.equal({
        time: 'Saisissez une heure, par exemple 09:00.', alertReminderDays: 'Le délai de rappel est compris entre 1 et 90 jours.',
        expiryReminderMonths: EXPIRY_MONTHS_ERROR,
      });
      expect(form.values).to.include({ time: '25:00', alertReminderDays: '91', expiryReminderMonths: 'six', alertsEnabled: '' });
    });

    it('reads the sending of digests by hand: one commune of the list or all, and a period', () => {
      expect(accepted(readDigestSendForm({ communeId: 'all', period: ' 2026-03 ' }, [4])).data).to.deep.equal({ communeIds: 'all', period: '2026-03' });
      expect(accepted(readDigestSendForm({ communeId: '4', period: '2026-03' }, [4])).data).to.deep.equal({ communeIds: [4], period: '2026-03' });
      const form = refused(readDigestSendForm({ communeId: '5', period: '2026/03' }, [4]));
      expect(form.errors).to.deep.equal({
        communeId: 'Choisissez une commune dans la liste, ou toutes les communes.',
        period: 'Saisissez la période : lettres, chiffres et tirets (par exemple 2026-12).',
      });
      expect(form.values).to.deep.equal({ communeId: '5', period: '2026/03' });
    });
  });

  describe('query strings', () => {
    it("reads the send log's filters and page, and refuses an unknown state or kind", () => {
      expect(readOutboxQuery({ etat: 'failed', type: 'digest', page: '3' }, ['digest', 'alert'])).to.deep.equal({ ok: true, status: 'failed', kind: 'digest', page: 3 });
      expect(readOutboxQuery({ page: 'x' }, ['digest'])).to.deep.equal({ ok: true, status: '', kind: '', page: 1 });
      expect(readOutboxQuery({ page: '0' }, ['digest'])).to.include({ page: 1 });
      expect(readOutboxQuery({ etat: 'lost' }, ['digest'])).to.deep.equal({ ok: false, message: "L'état demandé n'existe pas : choisissez-en un dans la liste." });
      expect(readOutboxQuery({ type: 'constructor' }, ['digest'])).to.deep.equal({ ok: false, message: "Le type de message demandé n'existe pas : choisissez-en un dans la liste." });
    });

    it("reads the journal's filters, the end day included, and refuses a malformed one with its message", () => {
      const read = readJournalFilter({ action: 'login', auteur: ' Inès ', du: '2026-03-01', au: '2026-03-15' }, ['login', 'logout'], 'Europe/Paris');
      expect(read.ok).to.equal(true);
      if (!read.ok) return;
      expect(read.query).to.deep.equal({ action: 'login', auteur: 'Inès', objet: '', du: '2026-03-01', au: '2026-03-15' });
      expect(read.filter).to.deep.equal({
        action: 'login', actor: 'Inès', from: new Date('2026-02-28T23:00:00.000Z'), before: new Date('2026-03-15T23:00:00.000Z'),
      });
      const message = (source: Record<string, unknown>) => { const r = readJournalFilter(source, ['login'], 'Europe/Paris'); return r.ok ? null : r.message; };
      expect(message({ action: 'hack' })).to.equal("L'action demandée n'existe pas : choisissez-en une dans la liste.");
      expect(message({ objet: 'Plan;' })).to.equal("Le type d'objet demandé n'existe pas : choisissez-en un dans la liste.");
      expect(message({ du: '2026-02-30' })).to.equal('La date de début est invalide : saisissez une date existante au format aaaa-mm-jj.');
      expect(message({ du: '2026-03-02', au: '2026-03-01' })).to.equal('La date de début est postérieure à la date de fin : inversez-les.');
    });
  });
});
