// `npm run build` (run by `npm ci` as the `prepare` script, and by `npm start` when a source changed since): the
// server's TypeScript bundled by esbuild into one plain JavaScript file, dist/server.mjs, that `npm start` runs with
// node alone. Running the sources through tsx instead costs a second thread with its own engine (some 33 MB) and a
// round trip to it for each of the several hundred modules loaded at start.
//
// - The packages stay in node_modules, loaded by node as they would be from the sources (same versions, same native
//   bindings); only date-fns is bundled, so that only the functions used are (its index loads some 800 modules).
// - A module that finds files next to itself (views, node_modules, through `import.meta.url`) still finds them: each
//   module's `import.meta.url` is its source file's address, computed from the bundle's own place.
// - Tests, scripts and the command line keep running the TypeScript through tsx; the bundle is only `npm start`'s.
// - dist/server.json records the build and what it was built from (size and time of each file), so that a start after
//   any change to the sources builds again instead of running stale code.
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY = 'src/server.ts';
/** Packages bundled rather than left to node: pure ESM, tree-shaken. */
const BUNDLED = ['date-fns'];
/** Files that change the output without being part of it: the build's options and the packages left external. */
const SETTINGS = ['scripts/build.mjs', 'package.json', 'tsconfig.json'];

/** Where a build goes: the bundle and its stamp. */
export function outputOf(outdir = path.join(root, 'dist')) {
  return { outdir, bundle: path.join(outdir, 'server.mjs'), stamp: path.join(outdir, 'server.json') };
}

const idLine = (id) => `// build ${id}: bundled from ${ENTRY} by scripts/build.mjs (npm run build). Edit the sources, not this file.`;

/** esbuild, as tsx (a dependency) installs it: the same compiler that runs the sources in development. */
function esbuild() {
  const fromTsx = createRequire(createRequire(import.meta.url).resolve('tsx/package.json'));
  return fromTsx('esbuild');
}

/** Each source module's `import.meta.url` becomes its own file's address, relative to where the bundle lies. */
function ownUrls(outdir) {
  return {
    name: 'own-import-meta-url',
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, (args) => {
        if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
        const source = readFileSync(args.path, 'utf8');
        if (!source.includes('import.meta.url')) return { contents: source, loader: 'ts' };
        const relative = path.relative(outdir, args.path).split(path.sep).map(encodeURIComponent).join('/');
        return { contents: source.replaceAll('import.meta.url', `new URL(${JSON.stringify(relative)}, import.meta.url).href`), loader: 'ts' };
      });
    },
  };
}

/** Writes a file whole or not at all: a start reading it meanwhile sees the previous one (several may build at once). */
function writeAtomically(file, data) {
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temporary, data);
  renameSync(temporary, file);
}

/** Bundles the server into `outdir`; returns the bundle's path and esbuild's metafile (its inputs and imports). */
export async function build({ outdir = path.join(root, 'dist') } = {}) {
  const out = outputOf(outdir);
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  const external = Object.keys(pkg.dependencies ?? {}).filter((name) => !BUNDLED.includes(name)).flatMap((name) => [name, `${name}/*`]);
  const id = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const result = await esbuild().build({
    absWorkingDir: root,
    entryPoints: [ENTRY],
    outfile: out.bundle,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external,
    plugins: [ownUrls(outdir)],
    banner: { js: idLine(id) },
    sourcemap: 'linked',
    sourcesContent: false,
    metafile: true,
    write: false,
    logLevel: 'warning',
  });
  mkdirSync(outdir, { recursive: true });
  const inputs = {};
  for (const file of [...Object.keys(result.metafile.inputs), ...SETTINGS]) {
    const st = statSync(path.resolve(root, file));
    inputs[file] = [st.size, st.mtimeMs];
  }
  for (const file of result.outputFiles) writeAtomically(file.path, file.contents);
  writeAtomically(out.stamp, JSON.stringify({ id, entry: ENTRY, inputs }));
  return { bundle: out.bundle, metafile: result.metafile };
}

/**
 * True when the bundle in `outdir` was built from the sources as they are: same build on both files, and every file
 * it was built from still there with the same size and time (a checkout, an edit, a reinstalled package change them).
 */
export function isFresh(outdir = path.join(root, 'dist')) {
  const out = outputOf(outdir);
  try {
    const stamp = JSON.parse(readFileSync(out.stamp, 'utf8'));
    const head = Buffer.alloc(200);
    const fd = openSync(out.bundle, 'r');
    try {
      readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
    if (!head.toString('utf8').startsWith(idLine(stamp.id))) return false;
    for (const [file, [size, mtimeMs]] of Object.entries(stamp.inputs)) {
      const st = statSync(path.resolve(root, file), { throwIfNoEntry: false });
      if (!st || st.size !== size || st.mtimeMs !== mtimeMs) return false;
    }
    return true;
  } catch {
    return false;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const started = performance.now();
  const { bundle, metafile } = await build();
  const bytes = metafile.outputs[path.relative(root, bundle).split(path.sep).join('/')]?.bytes ?? 0;
  console.log(`${path.relative(root, bundle)} : ${Object.keys(metafile.inputs).length} fichiers, ${Math.round(bytes / 1024)} Kio, en ${Math.round(performance.now() - started)} ms`);
}
