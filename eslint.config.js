// @ts-check
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// Layering: every SQL statement of the app lives in src/data (src/db.ts opens the connection). Elsewhere, a
// knex handle is only passed along to a data function: calling it, or a query builder's method, fails the lint.
const SQL_ONLY_IN_DATA = 'Le SQL vit dans src/data : appelez une fonction de src/data au lieu d’écrire la requête ici.';
const QUERY_METHODS = [
  'raw', 'schema', 'where[A-Za-z]*', 'orWhere[A-Za-z]*', 'andWhere[A-Za-z]*', '(left|right|inner|outer|cross|full)[A-Za-z]*Join',
  'joinRaw', 'orderBy[A-Za-z]*', 'groupBy[A-Za-z]*', 'having[A-Za-z]*', 'returning', 'onConflict', 'increment', 'decrement',
  'pluck', 'forUpdate', 'forShare', 'forNoKeyUpdate', 'truncate', 'del', 'countDistinct',
];
const queryRules = (methods) => [
  { selector: 'CallExpression[callee.type="Identifier"][callee.name=/^(db|trx|tx|knex|conn|connection|database)$/]', message: SQL_ONLY_IN_DATA },
  { selector: 'CallExpression[callee.type="MemberExpression"][callee.property.name=/^(db|trx|knex|database)$/]', message: SQL_ONLY_IN_DATA },
  { selector: `CallExpression[callee.type="MemberExpression"][callee.property.name=/^(${methods.join('|')})$/]`, message: SQL_ONLY_IN_DATA },
];

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', 'screenshots/', 'public/', 'dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, ...globals.mocha } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/no-namespace': ['error', { allowDeclarations: true }],
      eqeqeq: ['error', 'always'],
      'no-console': 'off',
    },
  },
  {
    // services may hold a unit of work (a transaction over several data functions); they write no query
    files: ['src/services/**/*.ts'],
    rules: { 'no-restricted-syntax': ['error', ...queryRules(QUERY_METHODS)] },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/data/**', 'src/db.ts', 'src/services/**'],
    rules: {
      'no-restricted-syntax': ['error', ...queryRules([...QUERY_METHODS, 'transaction'])],
      '@typescript-eslint/no-restricted-imports': ['error', { paths: [{ name: 'knex', message: SQL_ONLY_IN_DATA, allowTypeImports: true }] }],
    },
  },
  {
    files: ['src/services/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { paths: [{ name: 'knex', message: SQL_ONLY_IN_DATA, allowTypeImports: true }] }] },
  },
  {
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-unused-expressions': 'off' },
  },
);
