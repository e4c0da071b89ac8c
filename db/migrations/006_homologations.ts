import { addMonths } from 'date-fns/addMonths';
import { format } from 'date-fns/format';
import { parseISO } from 'date-fns/parseISO';
import type { Knex } from 'knex';

/**
 * Adds a nullable integer column referencing another table's id. On SQLite, knex adds a foreign key by rebuilding
 * the table (create a copy, drop the original, rename): inside the migration's transaction the foreign keys cannot be
 * switched off, so dropping the original cascades to every row referencing it (all the fiches, meetings and
 * signatures of a plan). SQLite's own ADD COLUMN takes a REFERENCES clause for a nullable column: nothing is rebuilt.
 */
export async function addReference(knex: Knex, table: string, column: string, target: string, onDelete: 'SET NULL' | 'CASCADE'): Promise<void> {
  if (knex.client.config.client === 'pg') {
    await knex.schema.alterTable(table, (t) => { t.integer(column).references('id').inTable(target).onDelete(onDelete); });
  } else {
    await knex.raw(`alter table ?? add column ?? integer references ??(id) on delete ${onDelete}`, [table, column, target]);
  }
}

/**
 * The homologation becomes the unit: the table `plans` holds one row per homologation (its perimeter, members,
 * renewal link and archive), and the decision signed at a signature meeting gets its outcome and end date.
 * A database made by the previous migrations becomes one homologation holding everything it had.
 */
export async function up(knex: Knex): Promise<void> {
  // the homologation this one renews: unique, so a homologation is renewed once
  await addReference(knex, 'plans', 'previous_id', 'plans', 'SET NULL');
  await knex.schema.alterTable('plans', (t) => {
    t.unique(['previous_id']);
    t.text('description').notNullable().defaultTo('');
    t.string('created_at', 30);
    // set when replaced by its renewal or archived by hand: read-only from then on
    t.string('archived_at', 30);
    // 'remplacee' | 'manuel'
    t.string('archived_reason', 20);
  });
  await knex('plans').update({ created_at: new Date().toISOString() });

  // the perimeter: which of the organisation's instances (and so services) the homologation covers
  await knex.schema.createTable('plan_instances', (t) => {
    t.integer('plan_id').notNullable().references('id').inTable('plans').onDelete('CASCADE');
    t.integer('instance_id').notNullable().references('id').inTable('instances').onDelete('CASCADE');
    t.primary(['plan_id', 'instance_id']);
    t.index(['instance_id']);
  });
  const plans: { id: number }[] = await knex('plans').select('id');
  const instances: { id: number }[] = await knex('instances').select('id');
  for (const p of plans) {
    for (let i = 0; i < instances.length; i += 200) {
      await knex('plan_instances').insert(instances.slice(i, i + 200).map((inst) => ({ plan_id: p.id, instance_id: inst.id })));
    }
  }

  // who works on what: 'editor' (project team) or 'viewer' (committee); others keep their global role
  await knex.schema.createTable('plan_members', (t) => {
    t.integer('plan_id').notNullable().references('id').inTable('plans').onDelete('CASCADE');
    t.integer('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('role', 20).notNullable();
    t.primary(['plan_id', 'user_id']);
    t.index(['user_id']);
  });

  await knex.schema.alterTable('signatures', (t) => {
    // 'homologuee' | 'sous_conditions' | 'provisoire' | 'refusee'
    t.string('outcome', 20);
    // the last day the decision is valid (decision date + duration, or set by the authority)
    t.string('ends_on', 10);
    t.string('authority_email', 254).notNullable().defaultTo('');
  });
  const signatures: { id: number; signed: unknown; conditions: string; decided_on: string; duration_months: number | null }[] =
    await knex('signatures').select('id', 'signed', 'conditions', 'decided_on', 'duration_months');
  for (const s of signatures) {
    const signed = Boolean(s.signed);
    const outcome = !signed ? 'refusee' : s.conditions.trim() ? 'sous_conditions' : 'homologuee';
    const endsOn = signed && s.duration_months ? format(addMonths(parseISO(s.decided_on), Number(s.duration_months)), 'yyyy-MM-dd') : null;
    await knex('signatures').where('id', s.id).update({ outcome, ends_on: endsOn });
  }

  // a fiche carried over by a renewal: the unfinished fiche of the previous homologation it continues
  await addReference(knex, 'fiches', 'carried_from_id', 'fiches', 'SET NULL');
  // a condition of a decision "sous conditions": the decision that set it
  await addReference(knex, 'fiches', 'condition_of', 'signatures', 'SET NULL');
  await knex.schema.alterTable('fiches', (t) => t.index(['condition_of']));

  // expiry reminders: one per decision and threshold (months before the end date; 0 = the day itself)
  await knex.schema.createTable('expiry_reminders', (t) => {
    t.increments('id');
    t.integer('plan_id').notNullable().references('id').inTable('plans').onDelete('CASCADE');
    t.integer('signature_id').notNullable().references('id').inTable('signatures').onDelete('CASCADE');
    t.integer('months_before').notNullable();
    t.string('ends_on', 10).notNullable();
    t.string('created_at', 30).notNullable();
    t.string('acknowledged_at', 30);
    t.integer('acknowledged_by').references('id').inTable('users').onDelete('SET NULL');
    t.string('acknowledged_by_name', 150);
    // set when a renewal is decided (or the homologation archived): nothing more is sent
    t.string('closed_at', 30);
    t.unique(['signature_id', 'months_before']);
    t.index(['plan_id']);
  });
  await addReference(knex, 'outbox', 'expiry_reminder_id', 'expiry_reminders', 'SET NULL');
  await knex.schema.alterTable('mail_settings', (t) => {
    // months before the end of validity when the reminders go, the day itself being 0
    t.string('expiry_reminder_months', 40).notNullable().defaultTo('6,3,1,0');
  });

  // the organisation's environments (instances name one by its code)
  await knex.schema.createTable('environments', (t) => {
    t.increments('id');
    t.string('code', 10).notNullable().unique();
    t.string('label', 60).notNullable().unique();
    t.integer('position').notNullable().defaultTo(0);
  });
  await knex('environments').insert([
    { code: 'prod', label: 'Production', position: 1 },
    { code: 'recette', label: 'Recette', position: 2 },
  ]);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('environments');
  await knex.schema.alterTable('mail_settings', (t) => t.dropColumn('expiry_reminder_months'));
  await knex.schema.alterTable('outbox', (t) => t.dropColumn('expiry_reminder_id'));
  await knex.schema.dropTableIfExists('expiry_reminders');
  await knex.schema.alterTable('fiches', (t) => {
    t.dropIndex(['condition_of']);
    t.dropColumn('condition_of');
    t.dropColumn('carried_from_id');
  });
  await knex.schema.alterTable('signatures', (t) => {
    t.dropColumn('outcome');
    t.dropColumn('ends_on');
    t.dropColumn('authority_email');
  });
  await knex.schema.dropTableIfExists('plan_members');
  await knex.schema.dropTableIfExists('plan_instances');
  await knex.schema.alterTable('plans', (t) => {
    for (const c of ['description', 'previous_id', 'created_at', 'archived_at', 'archived_reason']) t.dropColumn(c);
  });
}
