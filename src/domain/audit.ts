/** The fields that differ between two audit snapshots, for display: "status: non_demarre → en_cours". */
export function auditChanges(before: unknown, after: unknown): { field: string; before: string; after: string }[] {
  const b = (typeof before === 'object' && before !== null ? before : {}) as Record<string, unknown>;
  const a = (typeof after === 'object' && after !== null ? after : {}) as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])].filter((k) => !['version', 'updatedAt', 'createdAt'].includes(k));
  return keys
    .map((field) => ({ field, before: show(b[field]), after: show(a[field]) }))
    .filter((c) => c.before !== c.after);
}

function show(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}
