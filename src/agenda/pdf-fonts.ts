import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';

/**
 * The fonts of the app's PDFs, read once per process and handed to pdfkit as plain TrueType/OpenType (sfnt) bytes.
 *
 * The fonts ship as WOFF. fontkit reads WOFF, but inflates a compressed table again each time it reads from it: every
 * glyph measured or put in a subset inflated the whole 'glyf' table anew, a quarter of the time of a 50-fiche agenda
 * (and the files were read from disk for each document, twice). WOFF 1.0 is the sfnt's tables, each zlib-compressed:
 * they are inflated once here and laid out as the sfnt they came from, glyph for glyph the same font.
 */
const cache = new Map<string, Buffer>();

/** The font file as sfnt bytes (a WOFF unwrapped; any other file as it is), read once. */
export function fontData(file: string): Buffer {
  let data = cache.get(file);
  if (!data) {
    const raw = readFileSync(file);
    data = raw.toString('latin1', 0, 4) === 'wOFF' ? woffToSfnt(raw) : raw;
    cache.set(file, data);
  }
  return data;
}

/** WOFF 1.0 (W3C, 2012) to the sfnt it wraps: header, table records sorted by tag, each table 4-byte aligned. */
export function woffToSfnt(woff: Buffer): Buffer {
  if (woff.toString('latin1', 0, 4) !== 'wOFF') throw new Error('not a WOFF file');
  const flavor = woff.readUInt32BE(4);
  const numTables = woff.readUInt16BE(12);
  const tables = Array.from({ length: numTables }, (_, i) => {
    const at = 44 + 20 * i;
    const tag = woff.readUInt32BE(at);
    const offset = woff.readUInt32BE(at + 4);
    const compLength = woff.readUInt32BE(at + 8);
    const origLength = woff.readUInt32BE(at + 12);
    const checksum = woff.readUInt32BE(at + 16);
    const stored = woff.subarray(offset, offset + compLength);
    const data = compLength < origLength ? inflateSync(stored) : stored;
    if (data.length !== origLength) throw new Error('WOFF table of unexpected length');
    return { tag, checksum, data };
  }).sort((a, b) => a.tag - b.tag);
  let power = 1;
  let log = 0;
  while (power * 2 <= numTables) { power *= 2; log += 1; }
  const headerLength = 12 + 16 * numTables;
  const total = tables.reduce((sum, t) => sum + ((t.data.length + 3) & ~3), headerLength);
  const out = Buffer.alloc(total);
  out.writeUInt32BE(flavor, 0);
  out.writeUInt16BE(numTables, 4);
  out.writeUInt16BE(power * 16, 6);
  out.writeUInt16BE(log, 8);
  out.writeUInt16BE(numTables * 16 - power * 16, 10);
  let offset = headerLength;
  tables.forEach((t, i) => {
    const at = 12 + 16 * i;
    out.writeUInt32BE(t.tag, at);
    out.writeUInt32BE(t.checksum, at + 4);
    out.writeUInt32BE(offset, at + 8);
    out.writeUInt32BE(t.data.length, at + 12);
    t.data.copy(out, offset);
    offset += (t.data.length + 3) & ~3;
  });
  return out;
}
