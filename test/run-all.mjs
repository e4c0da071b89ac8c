// `npm test`: the type-check, the lint and the fast lane of the tests at the same time (on two cores, one after
// the other took twice as long). The tests' output is shown as it comes; the type-check's and the lint's once they
// end. Fails if any of the three fails. Type-check and lint keep their caches in node_modules/.cache.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const cache = (name) => path.join(root, 'node_modules', '.cache', name);

function run(label, command, args, { live = false } = {}) {
  const started = Date.now();
  const child = spawn(command, args, { cwd: root, stdio: live ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
  let output = '';
  if (!live) {
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
  }
  return new Promise((resolve) => {
    child.on('error', (err) => resolve({ label, code: 1, output: String(err), seconds: 0 }));
    child.on('exit', (code, signal) => resolve({ label, code: code ?? (signal ? 1 : 0), output, seconds: (Date.now() - started) / 1000 }));
  });
}

const results = await Promise.all([
  run('tsc', bin('tsc'), ['--noEmit', '--incremental', '--tsBuildInfoFile', path.join(cache('tsc'), 'tsbuildinfo')]),
  run('eslint', bin('eslint'), ['.', '--max-warnings', '0', '--cache', '--cache-location', `${cache('eslint')}/`]),
  run('mocha', bin('mocha'), process.argv.slice(2), { live: true }),
]);

let failed = false;
for (const r of results) {
  if (r.output.trim()) process.stdout.write(`\n── ${r.label} ──\n${r.output.trimEnd()}\n`);
  console.log(`${r.code === 0 ? '✔' : '✘'} ${r.label} ${r.code === 0 ? 'ok' : `failed (exit ${r.code})`} in ${r.seconds.toFixed(1)} s`);
  failed ||= r.code !== 0;
}
process.exit(failed ? 1 : 0);
