// Constraint violations, recognised on SQLite (better-sqlite3) and PostgreSQL alike.
function code(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
}

export function isUniqueViolation(err: unknown): boolean {
  const c = code(err);
  return c === 'SQLITE_CONSTRAINT_UNIQUE' || c === 'SQLITE_CONSTRAINT_PRIMARYKEY' || c === '23505';
}

export function isForeignKeyViolation(err: unknown): boolean {
  const c = code(err);
  // SQLite reports an ON DELETE RESTRICT refusal as a trigger constraint with this message.
  const message = err instanceof Error ? err.message : '';
  return c === 'SQLITE_CONSTRAINT_FOREIGNKEY' || c === '23503' || (c === 'SQLITE_CONSTRAINT_TRIGGER' && message.includes('FOREIGN KEY constraint failed'));
}
