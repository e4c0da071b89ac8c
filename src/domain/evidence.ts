/**
 * Evidence (pièces justificatives): what a document may be attached to, which file types are accepted and how a type
 * is told from the file's bytes (never its name nor the browser's word), the names shown and sent back. Pure.
 */

export const OWNER_TYPES = ['fiche', 'step', 'note', 'risk', 'decision'] as const;
export type OwnerType = (typeof OWNER_TYPES)[number];

export const OWNER_LABELS: Record<OwnerType, string> = {
  fiche: 'la fiche', step: "l'étape", note: 'la note de suivi', risk: 'le risque', decision: 'la décision',
};

/** The French words of the URL's `objet` parameter. */
export const OWNER_SLUGS: Record<string, OwnerType> = { fiche: 'fiche', etape: 'step', note: 'note', risque: 'risk', decision: 'decision' };
export const SLUG_OF: Record<OwnerType, string> = { fiche: 'fiche', step: 'etape', note: 'note', risk: 'risque', decision: 'decision' };

/** A kind of file told from its bytes, with the content type it is served with and its usual extensions. */
export interface FileKind { key: string; label: string; contentType: string; extensions: string[] }

export const FILE_KINDS: readonly FileKind[] = [
  { key: 'pdf', label: 'PDF', contentType: 'application/pdf', extensions: ['pdf'] },
  { key: 'png', label: 'image PNG', contentType: 'image/png', extensions: ['png'] },
  { key: 'jpeg', label: 'image JPEG', contentType: 'image/jpeg', extensions: ['jpg', 'jpeg'] },
  { key: 'gif', label: 'image GIF', contentType: 'image/gif', extensions: ['gif'] },
  { key: 'webp', label: 'image WebP', contentType: 'image/webp', extensions: ['webp'] },
  { key: 'docx', label: 'document Word', contentType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', extensions: ['docx', 'docm'] },
  { key: 'xlsx', label: 'classeur Excel', contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', extensions: ['xlsx', 'xlsm'] },
  { key: 'pptx', label: 'présentation PowerPoint', contentType: 'application/vnd.openxmlformats-officedocument.presentationml.presentation', extensions: ['pptx'] },
  { key: 'odt', label: 'texte OpenDocument', contentType: 'application/vnd.oasis.opendocument.text', extensions: ['odt'] },
  { key: 'ods', label: 'classeur OpenDocument', contentType: 'application/vnd.oasis.opendocument.spreadsheet', extensions: ['ods'] },
  { key: 'odp', label: 'présentation OpenDocument', contentType: 'application/vnd.oasis.opendocument.presentation', extensions: ['odp'] },
  { key: 'ole', label: 'document Office (ancien format)', contentType: 'application/vnd.ms-office', extensions: ['doc', 'xls', 'ppt', 'msg'] },
  { key: 'text', label: 'texte ou CSV', contentType: 'text/plain', extensions: ['txt', 'csv', 'log', 'md'] },
  { key: 'zip', label: 'archive ZIP', contentType: 'application/zip', extensions: ['zip'] },
  { key: '7z', label: 'archive 7z', contentType: 'application/x-7z-compressed', extensions: ['7z'] },
  { key: 'gzip', label: 'archive gzip', contentType: 'application/gzip', extensions: ['gz', 'tgz'] },
];

export const FILE_KIND_KEYS = FILE_KINDS.map((k) => k.key);
export const kindOf = (key: string): FileKind | undefined => FILE_KINDS.find((k) => k.key === key);

/** The organisation's limits on evidence: accepted kinds and size. */
export interface EvidenceLimits { maxBytes: number; kinds: string[] }
export const DEFAULT_EVIDENCE_LIMITS: EvidenceLimits = { maxBytes: 20 * 1024 * 1024, kinds: [...FILE_KIND_KEYS] };

/** What the first bytes say, before the rest of the file is known. */
export type Sniffed =
  | { kind: string; charset?: 'utf-8' | 'windows-1252' }
  | { refused: 'empty' | 'executable' | 'unknown' };

const startsWith = (head: Uint8Array, bytes: number[], at = 0) => bytes.every((b, i) => head[at + i] === b);
const ascii = (head: Uint8Array, text: string, at = 0) => startsWith(head, [...text].map((c) => c.charCodeAt(0)), at);

/**
 * Follows the bytes of a text as they come: printable (no control character but tab, line feed, form feed and
 * carriage return), and valid UTF-8 or Windows-1252 (where five bytes mean nothing).
 */
export class TextProbe {
  private decoder = new TextDecoder('utf-8', { fatal: true });
  private utf8 = true;
  private cp1252 = true;
  private printable = true;

  push(bytes: Uint8Array): void {
    if (!this.printable) return;
    for (const b of bytes) {
      if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0c && b !== 0x0d) || b === 0x7f) {
        this.printable = false;
        return;
      }
      if (b === 0x81 || b === 0x8d || b === 0x8f || b === 0x90 || b === 0x9d) this.cp1252 = false;
    }
    if (this.utf8) {
      try {
        this.decoder.decode(bytes, { stream: true });
      } catch {
        this.utf8 = false;
      }
    }
  }

  /** The charset of a text file, or null when the bytes are not text. */
  end(): 'utf-8' | 'windows-1252' | null {
    if (!this.printable) return null;
    if (this.utf8) {
      try {
        this.decoder.decode();
        return 'utf-8';
      } catch {
        this.utf8 = false;
      }
    }
    return this.cp1252 ? 'windows-1252' : null;
  }
}

/**
 * The kind of a file from its first bytes (`head`, a few KiB), the names of its entries when it is a ZIP (read from its
 * central directory: null when it could not be read), the content of an OpenDocument's `mimetype` entry, and what
 * the text probe concluded of all its bytes.
 */
export function sniff(head: Uint8Array, size: number, zip: { names: string[]; mimetype: string | null } | null, text: 'utf-8' | 'windows-1252' | null): Sniffed {
  if (size === 0) return { refused: 'empty' };
  if (ascii(head, '%PDF-')) return { kind: 'pdf' };
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { kind: 'png' };
  if (startsWith(head, [0xff, 0xd8, 0xff])) return { kind: 'jpeg' };
  if (ascii(head, 'GIF87a') || ascii(head, 'GIF89a')) return { kind: 'gif' };
  if (ascii(head, 'RIFF') && ascii(head, 'WEBP', 8)) return { kind: 'webp' };
  if (startsWith(head, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])) return { kind: 'ole' };
  if (startsWith(head, [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c])) return { kind: '7z' };
  if (startsWith(head, [0x1f, 0x8b])) return { kind: 'gzip' };
  if (startsWith(head, [0x50, 0x4b, 0x03, 0x04]) || startsWith(head, [0x50, 0x4b, 0x05, 0x06])) {
    if (!zip) return { refused: 'unknown' };
    const mimetype = zip.mimetype?.trim() ?? '';
    if (mimetype === 'application/vnd.oasis.opendocument.text') return { kind: 'odt' };
    if (mimetype === 'application/vnd.oasis.opendocument.spreadsheet') return { kind: 'ods' };
    if (mimetype === 'application/vnd.oasis.opendocument.presentation') return { kind: 'odp' };
    if (zip.names.includes('[Content_Types].xml')) {
      if (zip.names.some((n) => n.startsWith('word/'))) return { kind: 'docx' };
      if (zip.names.some((n) => n.startsWith('xl/'))) return { kind: 'xlsx' };
      if (zip.names.some((n) => n.startsWith('ppt/'))) return { kind: 'pptx' };
    }
    return { kind: 'zip' };
  }
  // programs: Windows (MZ), Linux (ELF), macOS (Mach-O, universal), scripts with a shebang
  if (ascii(head, 'MZ') || startsWith(head, [0x7f, 0x45, 0x4c, 0x46]) || startsWith(head, [0xcf, 0xfa, 0xed, 0xfe]) || startsWith(head, [0xfe, 0xed, 0xfa, 0xcf])
    || startsWith(head, [0xca, 0xfe, 0xba, 0xbe]) || ascii(head, '#!')) {
    return { refused: 'executable' };
  }
  if (text) return { kind: 'text', charset: text };
  return { refused: 'unknown' };
}

/** The content type a version is served with. */
export function contentTypeOf(kind: FileKind, charset?: string): string {
  return kind.key === 'text' && charset ? `text/plain; charset=${charset}` : kind.contentType;
}

/**
 * A file name as shown and stored: no folder (`../` and the like are dropped), no control or bidirectional
 * characters, 150 characters at most; "fichier" when nothing is left.
 */
export function displayName(name: string): string {
  const base = name.normalize('NFC').split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const clean = base.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '').replace(/^[.\s]+/, '').trim();
  if (!clean) return 'fichier';
  if (clean.length <= 150) return clean;
  const dot = clean.lastIndexOf('.');
  const ext = dot > 0 && clean.length - dot <= 10 ? clean.slice(dot) : '';
  return clean.slice(0, 150 - ext.length) + ext;
}

/** The name a download is saved under: the stored name, its extension made to match the real kind. */
export function downloadName(name: string, kind: FileKind | undefined): string {
  if (!kind) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
  if (kind.extensions.includes(ext)) return name;
  return `${dot > 0 ? name.slice(0, dot) : name}.${kind.extensions[0]}`;
}

/** `attachment; filename="…"; filename*=UTF-8''…`: an ASCII fallback without quotes or backslashes, and the real name. */
export function contentDisposition(name: string): string {
  const fallback = name.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/[^\x20-\x7e]/g, '_').replace(/["\\%;]/g, '_') || 'fichier';
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

/** "2,4 Mo", "20 Mo", "812 ko", "35 octets". */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} octet${bytes > 1 ? 's' : ''}`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} ko`;
  return `${(bytes / (1024 * 1024)).toFixed(1).replace('.', ',').replace(/,0$/, '')} Mo`;
}

/** Why a file was refused, in French. */
export function refusalMessage(reason: 'empty' | 'executable' | 'unknown' | 'type' | 'size' | 'missing', limits: EvidenceLimits): string {
  const accepted = limits.kinds.map((k) => kindOf(k)?.label).filter(Boolean).join(', ');
  switch (reason) {
    case 'missing': return 'Choisissez le fichier à joindre.';
    case 'empty': return 'Le fichier est vide : choisissez le document lui-même.';
    case 'size': return `Le fichier dépasse la taille autorisée (${formatSize(limits.maxBytes)}) : réduisez-le (PDF compressé, archive) ou découpez-le.`;
    case 'executable': return 'Ce fichier est un programme, quel que soit son nom : il ne peut pas être joint. Joignez un document (types acceptés : ' + accepted + ').';
    case 'type': return `Ce type de fichier n'est pas accepté. Types acceptés : ${accepted}.`;
    default: return `Le contenu de ce fichier n'est pas reconnu comme un type accepté (${accepted}), quel que soit son nom.`;
  }
}
