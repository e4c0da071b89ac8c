import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { ENGINE, freshApp } from '../helpers';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function runWriter(file: string, count: number): Promise<{ committed: number; errors: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'test/fixtures/sqlite-writer.ts'), file, String(count)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += String(d); });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`writer exited ${code}: ${out}`))));
  });
}

// On SQLite, several processes share the file (the server and the command line, or two servers): a transaction
// that reads then writes must hold the write lock from its start, or a write committed by the other process in
// between makes it fail (SQLITE_BUSY_SNAPSHOT: the busy timeout cannot help), which a user sees as an error page.
(ENGINE === 'sqlite' ? describe : describe.skip)('SQLite shared by several processes', function () {
  this.timeout(60_000);
  it('runs read-then-write transactions from two processes without an error or a lost write', async () => {
    const t = await freshApp();
    try {
      const before = (await t.db('plans').orderBy('id').first('reminder')).reminder as string;
      await t.db.destroy();
      const results = await Promise.all([runWriter(t.config.databaseFile, 40), runWriter(t.config.databaseFile, 40)]);
      expect(results.flatMap((r) => r.errors)).to.deep.equal([]);
      expect(results.map((r) => r.committed)).to.deep.equal([40, 40]);
      const again = t.openAnother();
      const after = (await again('plans').orderBy('id').first('reminder')).reminder as string;
      expect(after.length - before.length).to.equal(80);
    } finally {
      await t.close().catch(() => {});
    }
  });
});
