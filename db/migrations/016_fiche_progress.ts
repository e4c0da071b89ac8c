import type { Knex } from 'knex';

/**
 * The number of a fiche's steps done after each change that moves it, written with the change: what the dashboard's
 * trend draws, instead of reading and parsing the whole audit trail at every view. Filled from the audit trail's
 * snapshots of the fiches (their creation and their form's saves), as the trend read them until now.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('fiche_progress', (t) => {
    t.increments('id');
    t.integer('fiche_id').notNullable().references('id').inTable('fiches').onDelete('CASCADE');
    t.string('at', 30).notNullable();
    t.integer('steps_done').notNullable();
    t.index(['fiche_id', 'at']);
  });
  const existing = new Set((await knex('fiches').select('id')).map((r: { id: number }) => Number(r.id)));
  let last = 0;
  for (;;) {
    const rows: { id: number; entity_id: number; at: string; after: string | null }[] = await knex('audit_log')
      .where('entity_type', 'fiche').whereIn('action', ['create', 'update']).where('id', '>', last)
      .orderBy('id').limit(1000).select('id', 'entity_id', 'at', 'after');
    if (!rows.length) break;
    last = Number(rows[rows.length - 1]!.id);
    const progress = rows.flatMap((r) => {
      const after = r.after ? JSON.parse(r.after) : null;
      if (!after || !Array.isArray(after.steps) || !existing.has(Number(r.entity_id))) return [];
      return [{ fiche_id: Number(r.entity_id), at: r.at, steps_done: after.steps.filter((s: { status: string }) => s.status === 'fait').length }];
    });
    for (let i = 0; i < progress.length; i += 200) await knex('fiche_progress').insert(progress.slice(i, i + 200));
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('fiche_progress');
}
