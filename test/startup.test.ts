import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { build, type BuildMetafile, isFresh, outputOf, root } from '../scripts/build.mjs';

// Issue 19: the server starts in under 1.5 s and stays under 250 MB at national scale. What it loads at start is what
// the bundle `npm start` runs imports statically; a library only a few pages use is imported where it is used.
const LOADED_WHEN_USED = ['@e965/xlsx', 'nodemailer', 'qrcode', '@node-rs/argon2', 'pdfkit', 'ics'];
// Still imported at start by a module not yet reworked: src/agenda/ics.ts (ics, for a meeting's invitation).
// When one no longer is, the last test below says so: take it out of this list.
const NOT_YET = ['ics'];

const packageOf = (specifier: string) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

describe('the server as `npm start` runs it: one bundle of plain JavaScript (scripts/build.mjs)', function () {
  this.timeout(60_000);
  let outdir: string;
  let bundle: string;
  let metafile: BuildMetafile;

  before(async () => {
    // inside the project, as dist/ is: the packages the bundle imports are found in node_modules above it
    mkdirSync(path.join(root, 'node_modules/.cache'), { recursive: true });
    outdir = mkdtempSync(path.join(root, 'node_modules/.cache/build-test-'));
    ({ bundle, metafile } = await build({ outdir }));
  });
  after(() => rmSync(outdir, { recursive: true, force: true }));

  const output = () => metafile.outputs[path.relative(root, bundle).split(path.sep).join('/')]!;
  const imported = (kind: 'import-statement' | 'dynamic-import') =>
    new Set(output().imports.filter((i) => i.external && i.kind === kind).map((i) => packageOf(i.path)));

  it('does not load at start the libraries of the exports, the import, PDFs, QR codes, e-mail and passwords', () => {
    const atStart = imported('import-statement');
    const later = imported('dynamic-import');
    for (const lib of LOADED_WHEN_USED.filter((l) => !NOT_YET.includes(l))) {
      expect(atStart.has(lib), `${lib} est importé au démarrage`).to.equal(false);
      expect(later.has(lib), `${lib} n'est plus chargé là où il sert`).to.equal(true);
    }
  });

  it('takes from date-fns only the functions used, not its index of some 800 modules', () => {
    expect(imported('import-statement').has('date-fns')).to.equal(false);
    const fromDateFns = Object.entries(output().inputs).filter(([f, i]) => f.includes('node_modules/date-fns/') && i.bytesInOutput > 0);
    expect(fromDateFns.length).to.be.within(1, 120);
    expect(fromDateFns.map(([f]) => f).filter((f) => /\/locale\/(?!fr\b|_lib|en-US)/.test(f)), 'another language than French').to.deep.equal([]);
  });

  it('keeps each module finding its files: its import.meta.url is its source file, wherever the bundle lies', () => {
    const code = readFileSync(bundle, 'utf8');
    const uses = code.match(/import\.meta\.url/g) ?? [];
    const own = [...code.matchAll(/new URL\("([^"]+)", import\.meta\.url\)\.href/g)].map((m) => m[1]!);
    expect(own.length).to.be.greaterThan(0);
    expect(own.length, 'an import.meta.url left as the bundle’s own').to.equal(uses.length);
    for (const relative of own) {
      const file = fileURLToPath(new URL(relative, pathToFileURL(bundle)));
      expect(file.startsWith(root + path.sep) && !file.includes(`${path.sep}dist${path.sep}`), file).to.equal(true);
      expect(existsSync(file), file).to.equal(true);
    }
  });

  it('is built again after any change to what it was built from, or when its two files are not of the same build', () => {
    const { stamp } = outputOf(outdir);
    const recorded = readFileSync(stamp, 'utf8');
    expect(isFresh(outdir)).to.equal(true);
    const parsed = JSON.parse(recorded) as { id: string; inputs: Record<string, [number, number]> };
    for (const file of ['src/app.ts', 'db/migrations/index.ts', 'package.json']) {
      const [size, mtimeMs] = parsed.inputs[file]!;
      writeFileSync(stamp, JSON.stringify({ ...parsed, inputs: { ...parsed.inputs, [file]: [size, mtimeMs - 1000] } }));
      expect(isFresh(outdir), `${file} modifié`).to.equal(false);
      writeFileSync(stamp, JSON.stringify({ ...parsed, inputs: { ...parsed.inputs, [file]: [size + 1, mtimeMs] } }));
      expect(isFresh(outdir), `${file} d'une autre taille`).to.equal(false);
    }
    writeFileSync(stamp, JSON.stringify({ ...parsed, inputs: { ...parsed.inputs, 'src/gone.ts': [1, 1] } }));
    expect(isFresh(outdir), 'a file gone').to.equal(false);
    writeFileSync(stamp, JSON.stringify({ ...parsed, id: 'another-build' }));
    expect(isFresh(outdir), 'another build').to.equal(false);
    writeFileSync(stamp, recorded);
    expect(isFresh(outdir)).to.equal(true);
    rmSync(bundle);
    expect(isFresh(outdir), 'no bundle').to.equal(false);
  });

  it('lists accurately what is still loaded at start', () => {
    const atStart = imported('import-statement');
    for (const lib of NOT_YET) expect(atStart.has(lib), `${lib} n'est plus importé au démarrage : retirez-le de NOT_YET`).to.equal(true);
  });
});
