// Types of scripts/build.mjs (plain JavaScript: `npm start` runs it without tsx), for the tests that use it.
export interface BuildMetafile {
  inputs: Record<string, { bytes: number }>;
  outputs: Record<string, {
    bytes: number;
    inputs: Record<string, { bytesInOutput: number }>;
    imports: { path: string; kind: string; external?: boolean }[];
  }>;
}
export const root: string;
export function outputOf(outdir?: string): { outdir: string; bundle: string; stamp: string };
export function build(options?: { outdir?: string }): Promise<{ bundle: string; metafile: BuildMetafile }>;
export function isFresh(outdir?: string): boolean;
