import { expect } from 'chai';
import { ESLint } from 'eslint';

// The lint rule of eslint.config.js that keeps every SQL statement in src/data: checked here on code it must
// refuse and code it must let through, so a loosened rule fails the suite rather than going unnoticed.
describe('layering: SQL lives in src/data (lint rule)', () => {
  let eslint: ESLint;
  before(() => { eslint = new ESLint(); });

  const problems = async (filePath: string, code: string) => {
    const [result] = await eslint.lintText(code, { filePath });
    return result!.messages.filter((m) => m.ruleId === 'no-restricted-syntax' || m.ruleId === '@typescript-eslint/no-restricted-imports');
  };

  const queries = {
    'a table called on the handle': "export const f = (ctx: { db: any }) => ctx.db('users').select('id');",
    'a table called on a transaction': "export const f = (trx: any) => trx('users').update({ active: false });",
    'a builder method on any name': "export const f = (q: any) => q.whereNull('anonymized_at');",
    'a raw statement': "export const f = (k: any) => k.raw('select 1');",
    'a join': "export const f = (q: any) => q.leftJoin('teams', 'teams.id', 'users.team_id');",
    'a transaction opened': 'export const f = (ctx: any) => ctx.db.transaction(async () => {});',
    'knex imported as a value': "import knex from 'knex';\nexport const k = knex;",
  };

  for (const [what, code] of Object.entries(queries)) {
    it(`refuses ${what} in a route`, async () => {
      const found = await problems('src/web/routes/example.ts', code);
      expect(found, what).to.have.length.greaterThan(0);
      expect(found[0]!.message).to.match(/src\/data/);
    });
    it(`accepts ${what} in src/data`, async () => {
      expect(await problems('src/data/example.ts', code)).to.deep.equal([]);
    });
  }

  it('refuses a query in a service but lets it hold a transaction over data functions', async () => {
    expect(await problems('src/services/example.ts', queries['a table called on a transaction'])).to.have.length.greaterThan(0);
    expect(await problems('src/services/example.ts', "export const f = (db: any, g: any) => db.transaction((trx: any) => g(trx));")).to.deep.equal([]);
  });

  it('lets through what only looks like a query: arrays, buffers, a type import of knex', async () => {
    const code = "import type { Knex } from 'knex';\nexport const f = (db: Knex, xs: string[]) => [xs.join(', '), Array.from(xs), Buffer.from('a'), db];";
    expect(await problems('src/web/routes/example.ts', code)).to.deep.equal([]);
  });
});
