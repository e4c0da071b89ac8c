import type { Knex } from 'knex';

// Dates are stored as ISO strings (YYYY-MM-DD for days, full ISO for instants)
// so that SQLite and PostgreSQL return the same values through Knex.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('teams', (t) => {
    t.increments('id');
    t.string('name', 100).notNullable().unique();
    t.string('description', 500).notNullable().defaultTo('');
  });
  await knex.schema.createTable('communes', (t) => {
    t.increments('id');
    t.string('name', 150).notNullable().unique();
    t.string('insee_code', 5);
  });
  await knex.schema.createTable('services', (t) => {
    t.increments('id');
    t.string('name', 100).notNullable().unique();
    t.string('description', 500).notNullable().defaultTo('');
    t.integer('position').notNullable().defaultTo(0);
  });
  await knex.schema.createTable('instances', (t) => {
    t.increments('id');
    t.integer('service_id').notNullable().references('id').inTable('services').onDelete('RESTRICT');
    t.string('environment', 10).notNullable();
    t.string('name', 150).notNullable();
    t.integer('team_id').notNullable().references('id').inTable('teams').onDelete('RESTRICT');
    t.integer('commune_id').references('id').inTable('communes').onDelete('RESTRICT');
    t.unique(['service_id', 'name']);
    t.index(['commune_id']);
  });
  await knex.schema.createTable('plans', (t) => {
    t.increments('id');
    t.string('title', 200).notNullable();
    t.string('organisation', 200).notNullable();
    t.text('reminder').notNullable().defaultTo('');
    t.boolean('is_demo').notNullable().defaultTo(false);
  });
  await knex.schema.createTable('milestones', (t) => {
    t.increments('id');
    t.integer('plan_id').notNullable().references('id').inTable('plans').onDelete('CASCADE');
    t.string('due_date', 10).notNullable();
    t.string('title', 300).notNullable();
    t.boolean('done').notNullable().defaultTo(false);
  });
  await knex.schema.createTable('fiches', (t) => {
    t.increments('id');
    t.integer('plan_id').notNullable().references('id').inTable('plans').onDelete('CASCADE');
    t.integer('number').notNullable();
    t.string('title', 300).notNullable();
    t.text('finding').notNullable().defaultTo('');
    t.string('target_date', 10);
    t.string('status', 20).notNullable().defaultTo('non_demarre');
    t.text('conclusion').notNullable().defaultTo('');
    t.integer('cost_amount');
    t.string('cost_source', 200).notNullable().defaultTo('');
    t.boolean('scope_all').notNullable().defaultTo(true);
    t.integer('version').notNullable().defaultTo(1);
    t.string('created_at', 30).notNullable();
    t.string('updated_at', 30).notNullable();
    t.unique(['plan_id', 'number']);
  });
  await knex.schema.createTable('steps', (t) => {
    t.increments('id');
    t.integer('fiche_id').notNullable().references('id').inTable('fiches').onDelete('CASCADE');
    t.integer('position').notNullable();
    t.string('label', 500).notNullable();
    t.string('status', 20).notNullable().defaultTo('non_demarre');
    t.index(['fiche_id', 'position']);
  });
  await knex.schema.createTable('conclusion_counts', (t) => {
    t.increments('id');
    t.integer('fiche_id').notNullable().references('id').inTable('fiches').onDelete('CASCADE');
    t.integer('position').notNullable();
    t.integer('count').notNullable();
    t.integer('total').notNullable();
    t.string('label', 500).notNullable();
    t.index(['fiche_id']);
  });
  await knex.schema.createTable('side_effects', (t) => {
    t.increments('id');
    t.integer('fiche_id').notNullable().references('id').inTable('fiches').onDelete('CASCADE');
    t.integer('position').notNullable();
    t.string('level', 10).notNullable();
    t.text('description').notNullable();
    t.index(['fiche_id']);
  });
  await knex.schema.createTable('fiche_owners', (t) => {
    t.increments('id');
    t.integer('fiche_id').notNullable().references('id').inTable('fiches').onDelete('CASCADE');
    t.integer('team_id').notNullable().references('id').inTable('teams').onDelete('RESTRICT');
    // null: the team owns the fiche for its whole scope
    t.integer('service_id').references('id').inTable('services').onDelete('RESTRICT');
    t.index(['fiche_id']);
  });
  await knex.schema.createTable('fiche_instances', (t) => {
    t.integer('fiche_id').notNullable().references('id').inTable('fiches').onDelete('CASCADE');
    // An instance in a fiche's scope cannot be deleted silently: the fiche must be changed first.
    t.integer('instance_id').notNullable().references('id').inTable('instances').onDelete('RESTRICT');
    t.primary(['fiche_id', 'instance_id']);
    t.index(['instance_id']);
  });
  await knex.schema.createTable('users', (t) => {
    t.increments('id');
    t.string('email', 254).notNullable().unique();
    t.string('name', 150).notNullable();
    t.string('role', 20).notNullable();
    t.integer('commune_id').references('id').inTable('communes').onDelete('RESTRICT');
    t.string('password_hash', 200).notNullable();
    t.boolean('active').notNullable().defaultTo(true);
    t.string('created_at', 30).notNullable();
    t.string('last_login_at', 30);
  });
  await knex.schema.createTable('progress_notes', (t) => {
    t.increments('id');
    t.integer('fiche_id').notNullable().references('id').inTable('fiches').onDelete('CASCADE');
    t.integer('author_id').references('id').inTable('users').onDelete('SET NULL');
    t.string('noted_on', 10).notNullable();
    t.string('created_at', 30).notNullable();
    t.text('body').notNullable();
    t.string('status_before', 20);
    t.string('status_after', 20);
    t.index(['fiche_id', 'noted_on']);
  });
  await knex.schema.createTable('audit_log', (t) => {
    t.increments('id');
    t.string('at', 30).notNullable();
    t.integer('user_id').references('id').inTable('users').onDelete('SET NULL');
    t.string('actor', 200).notNullable();
    t.string('action', 30).notNullable();
    t.string('entity_type', 30).notNullable();
    t.integer('entity_id');
    t.text('summary').notNullable().defaultTo('');
    t.text('before');
    t.text('after');
    t.index(['entity_type', 'entity_id']);
    t.index(['at']);
  });
  // Same shape as connect-session-knex expects; created here so every engine gets it from migrations.
  await knex.schema.createTable('sessions', (t) => {
    t.string('sid', 255).primary();
    t.json('sess').notNullable();
    t.timestamp('expired', { useTz: true }).notNullable().index();
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'sessions', 'audit_log', 'progress_notes', 'users', 'fiche_instances', 'fiche_owners', 'side_effects',
    'conclusion_counts', 'steps', 'fiches', 'milestones', 'plans', 'instances', 'services', 'communes', 'teams',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
