import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { NextFunction, Request, Response } from 'express';
import multer from 'multer';
import { CHUNK_BYTES, type ReceivedFile } from '../data/evidence';
import {
  contentTypeOf, DEFAULT_EVIDENCE_LIMITS, displayName, type EvidenceLimits, kindOf, refusalMessage, sniff, TextProbe,
} from '../domain/evidence';
import { communeRestriction } from '../domain/roles';
import { HttpError } from './errors';

/** A file received into a temporary file, hashed and sniffed while it came. */
export interface UploadedEvidence {
  tmpPath: string;
  originalName: string;
  name: string;
  size: number;
  sha256: string;
  kind: string;
  contentType: string;
}

declare module 'express-serve-static-core' {
  interface Request {
    /** The evidence file sent with the form, or why it was refused while it came (nothing of it is kept then). */
    evidenceUpload?: UploadedEvidence | { error: string };
  }
}

const UPLOAD_PATH = /^\/homologations\/\d{1,9}\/pieces(\/\d{1,9}\/remplacer)?$/;
const HEAD_BYTES = 8192;

interface Stored { path: string; size: number; sha256: string; head: Buffer; text: 'utf-8' | 'windows-1252' | null }

class TooLarge extends Error {}

/**
 * multer's storage: the file goes to a temporary file (mode 600) while its SHA-256, its first bytes and whether it is
 * text are computed; past the size limit it stops and the temporary file is removed, so is it on any failure.
 */
function temporaryStorage(limits: EvidenceLimits): multer.StorageEngine {
  return {
    _handleFile(req, file, cb) {
      const tmp = path.join(tmpdir(), `piece-${randomUUID()}`);
      const hash = createHash('sha256');
      const probe = new TextProbe();
      const head: Buffer[] = [];
      let headBytes = 0;
      let size = 0;
      const meter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          size += chunk.length;
          if (size > limits.maxBytes) return done(new TooLarge());
          hash.update(chunk);
          probe.push(chunk);
          if (headBytes < HEAD_BYTES) {
            head.push(chunk.subarray(0, HEAD_BYTES - headBytes));
            headBytes += Math.min(chunk.length, HEAD_BYTES - headBytes);
          }
          done(null, chunk);
        },
      });
      const out = createWriteStream(tmp, { flags: 'wx', mode: 0o600 });
      // a client gone before the end: the copy stops and is removed (multer answers nothing then)
      const onClose = () => {
        if (!req.complete) meter.destroy(new Error('Envoi interrompu'));
      };
      req.once('close', onClose);
      pipeline(file.stream, meter, out).then(
        () => {
          req.off('close', onClose);
          cb(null, { path: tmp, size, sha256: hash.digest('hex'), head: Buffer.concat(head), text: probe.end() } as Partial<Express.Multer.File> & Stored);
        },
        (err: unknown) => {
          req.off('close', onClose);
          file.stream.resume();
          rm(tmp, { force: true }).finally(() => cb(err instanceof TooLarge ? new multer.MulterError('LIMIT_FILE_SIZE', file.fieldname) : (err as Error)));
        },
      );
    },
    _removeFile(_req, file, cb) {
      rm((file as unknown as Stored).path, { force: true }).then(() => cb(null), cb);
    },
  };
}

/** The names of a ZIP's entries from its central directory, and its `mimetype` entry when stored first (OpenDocument). */
async function zipEntries(file: string, size: number, head: Buffer): Promise<{ names: string[]; mimetype: string | null } | null> {
  const handle = await open(file, 'r');
  try {
    const tailLength = Math.min(size, 65_557);
    const tail = Buffer.alloc(tailLength);
    await handle.read(tail, 0, tailLength, size - tailLength);
    let eocd = -1;
    for (let i = tailLength - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) return null;
    const count = tail.readUInt16LE(eocd + 10);
    const cdSize = Math.min(tail.readUInt32LE(eocd + 12), 1024 * 1024);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    if (cdOffset + cdSize > size) return null;
    const cd = Buffer.alloc(cdSize);
    await handle.read(cd, 0, cdSize, cdOffset);
    const names: string[] = [];
    for (let at = 0, n = 0; n < count && at + 46 <= cd.length && cd.readUInt32LE(at) === 0x02014b50; n++) {
      const nameLength = cd.readUInt16LE(at + 28);
      names.push(cd.toString('utf8', at + 46, Math.min(cd.length, at + 46 + nameLength)));
      at += 46 + nameLength + cd.readUInt16LE(at + 30) + cd.readUInt16LE(at + 32);
    }
    let mimetype: string | null = null;
    if (head.length >= 30 && head.readUInt32LE(0) === 0x04034b50 && head.readUInt16LE(8) === 0) {
      const nameLength = head.readUInt16LE(26);
      const start = 30 + nameLength + head.readUInt16LE(28);
      if (head.toString('utf8', 30, 30 + nameLength) === 'mimetype') mimetype = head.toString('utf8', start, Math.min(head.length, start + head.readUInt32LE(18)));
    }
    return { names, mimetype };
  } finally {
    await handle.close();
  }
}

/** Decides a received file's kind from its bytes; a kind outside the organisation's list is refused too. */
async function judge(stored: Stored, originalName: string, limits: EvidenceLimits): Promise<UploadedEvidence | { error: string }> {
  const isZip = stored.head.length >= 4 && stored.head.readUInt32LE(0) === 0x04034b50;
  const zip = isZip ? await zipEntries(stored.path, stored.size, stored.head) : null;
  const sniffed = sniff(stored.head, stored.size, zip, stored.text);
  if ('refused' in sniffed) return { error: refusalMessage(sniffed.refused, limits) };
  const kind = kindOf(sniffed.kind)!;
  if (!limits.kinds.includes(kind.key)) return { error: refusalMessage('type', limits) };
  return {
    tmpPath: stored.path, originalName, name: displayName(originalName), size: stored.size, sha256: stored.sha256, kind: kind.key,
    contentType: contentTypeOf(kind, sniffed.charset),
  };
}

/** The bytes of a received file, as the chunks they are stored in. */
export function receivedFile(upload: UploadedEvidence): ReceivedFile {
  return {
    name: upload.name, contentType: upload.contentType, size: upload.size, sha256: upload.sha256,
    async *chunks() {
      const handle = await open(upload.tmpPath, 'r');
      try {
        for (;;) {
          const buffer = Buffer.alloc(CHUNK_BYTES);
          const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, null);
          if (bytesRead === 0) return;
          yield bytesRead === CHUNK_BYTES ? buffer : buffer.subarray(0, bytesRead);
        }
      } finally {
        await handle.close();
      }
    },
  };
}

/**
 * The evidence forms are multipart: read before the CSRF check (their token is in the body), for the POSTs of the
 * evidence paths by a signed-in user outside the communes; the homologation's own rights (its editors) are checked by
 * its router next, after the CSRF check.
 * Whatever happens next, the temporary file is removed when the answer ends.
 */
export function evidenceUpload(limits: EvidenceLimits = DEFAULT_EVIDENCE_LIMITS) {
  const upload = multer({
    storage: temporaryStorage(limits),
    limits: { fileSize: limits.maxBytes, files: 1, fields: 10, fieldSize: 2000, parts: 12 },
  }).single('fichier');
  return (req: Request, res: Response, next: NextFunction): void => {
    // not by global role: a global viewer may be listed as an editor of this homologation; never a commune's role
    if (req.method !== 'POST' || !UPLOAD_PATH.test(req.path) || !req.user || communeRestriction(req.user) !== null || !req.is('multipart/form-data')) return next();
    res.once('close', () => {
      // the file as multer left it too: the answer may end before its kind is decided
      const stored = (req.file as unknown as Stored | undefined)?.path;
      if (stored) void rm(stored, { force: true });
    });
    upload(req, res, (err: unknown) => {
      req.body ??= {};
      if (err instanceof multer.MulterError) {
        req.evidenceUpload = { error: err.code === 'LIMIT_FILE_SIZE' ? refusalMessage('size', limits) : "L'envoi du formulaire n'a pas pu être lu. Recommencez." };
        return next();
      }
      if (err) return next(new HttpError(400, "Le formulaire envoyé n'a pas pu être lu : l'envoi a été interrompu ou il est mal formé. Rechargez la page et recommencez."));
      if (!req.file) return next();
      const stored = req.file as unknown as Stored;
      const originalName = Buffer.from(req.file.originalname, 'latin1').toString('utf8');
      judge(stored, originalName, limits).then(
        (judged) => {
          req.evidenceUpload = judged;
          if ('error' in judged) void rm(stored.path, { force: true });
          next();
        },
        (e: unknown) => {
          void rm(stored.path, { force: true });
          next(e);
        },
      );
    });
  };
}
