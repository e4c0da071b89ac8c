import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ejs from 'ejs';

/** The options every view is compiled with (app.ts's engine): compiled once, kept by file name, output escaped. */
export const VIEW_OPTIONS = { cache: true, escape: ejs.escapeXML } as const;

function viewFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const file = path.join(dir, e.name);
    if (e.isDirectory()) return viewFiles(file);
    return e.name.endsWith('.ejs') ? [file] : [];
  });
}

const compiling = new Map<string, Promise<{ compiled: number; failed: string[] }>>();

/**
 * Compiles every view of a folder into ejs's cache once per process, in the background: one template per turn of the event loop,
 * so that a request arriving meanwhile waits for one template at most. Without it the first view of each page after a
 * start compiled its templates (some 25 ms for the dashboard, a third of its time). The cache is the one the engine
 * reads (same file names, same options), so a page renders the same either way. A template that does not compile is
 * left for its page to report, and named here.
 */
export function precompileViews(dir: string): Promise<{ compiled: number; failed: string[] }> {
  const started = compiling.get(dir);
  if (started) return started;
  const done = new Promise<{ compiled: number; failed: string[] }>((resolve) => {
    let files: string[];
    try {
      files = viewFiles(dir);
    } catch {
      resolve({ compiled: 0, failed: [] });
      return;
    }
    const failed: string[] = [];
    let compiled = 0;
    const next = (i: number) => {
      if (i >= files.length) {
        if (failed.length) console.error(`Modèles de page qui ne se compilent pas : ${failed.join(', ')}`);
        resolve({ compiled, failed });
        return;
      }
      const file = files[i]!;
      try {
        if (!ejs.cache.get(file)) {
          const fn = ejs.compile(readFileSync(file, 'utf8').replace(/^\uFEFF/, ''), { ...VIEW_OPTIONS, filename: file });
          ejs.cache.set(file, fn);
        }
        compiled++;
      } catch {
        failed.push(path.relative(dir, file));
      }
      setImmediate(next, i + 1);
    };
    setImmediate(next, 0);
  });
  compiling.set(dir, done);
  return done;
}
