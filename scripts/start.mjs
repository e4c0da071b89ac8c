// `npm start`: the server as plain JavaScript, dist/server.mjs (scripts/build.mjs), built again first if a source
// changed since it was built; node alone runs it, without tsx (start in about half the time, some 50 MB less memory).
// If it cannot be built (a read-only installation that was not built by `npm ci`), the sources run through tsx as
// before, and the reason is printed.
import { pathToFileURL } from 'node:url';
import { build, isFresh, outputOf } from './build.mjs';

const { bundle } = outputOf();
let runnable = isFresh();
if (!runnable) {
  try {
    await build();
    runnable = true;
  } catch (err) {
    console.error(`Le serveur n'a pas pu être construit (npm run build), il démarre depuis ses sources TypeScript, plus lentement : ${err instanceof Error ? err.message : String(err)}`);
  }
}
if (runnable) {
  await import(pathToFileURL(bundle).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/server.ts');
}
