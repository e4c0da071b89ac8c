import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Knex } from 'knex';
import { type HotReads, hotReads } from '../data/hot-reads';

/**
 * Pages and per-request reads reused until the data changes. Every request reads the data's revision first (one
 * statement; db/migrations/017_data_revision.ts): what was computed at that revision still holds, on this process,
 * whatever another process wrote before (its write moved the revision). What a request computes after reading the
 * revision is at least as new as it, never older: a page is stored under the revision read before it was computed.
 *
 * A page is reused only for the same session (so the same person, role and form token), the same address, the same
 * revision and the same minute (lateness, "today", a meeting about to start are computed on the clock), and only if
 * computing it changed nothing else: no notice shown, nothing written into the session, no header of its own.
 * Browsers get an ETag and `Cache-Control: private, no-cache`: they ask again each time and get a 304 while the page
 * is the same.
 *
 * One instance per app (so per process): tests build two apps over one PostgreSQL database as two processes.
 */
export interface PageCacheOptions {
  now: () => Date;
  /** The session cookie's name and the secret that signs it (express-session's). */
  cookie: { name: string; secret: string };
  /** Whether this process wrote the session's expiry less than a minute ago (else the full path writes it). */
  touchedRecently: (sid: string) => boolean;
  /** Bytes of pages kept (the least recently used go first). */
  maxBytes?: number;
}

interface Page {
  body: string;
  etag: string;
  bytes: number;
}

/** Addresses whose pages are never reused: the account's own pages (second factor enrolment…) and the live supervision. */
const NEVER = /^\/(compte|admin\/supervision)(\/|$)/;
/** A page bigger than this is not kept (it would push out many others). */
const MAX_PAGE = 2 * 1024 * 1024;
/** Memoised reads kept per revision, at most (one per user, a few global ones). */
const MAX_MEMOS = 5000;

export class PageCache {
  private current = -1;
  private memos = new Map<string, Promise<unknown>>();
  private pages = new Map<string, Page>();
  private bytes = 0;
  private readonly maxBytes: number;
  private readonly reads: HotReads;

  constructor(db: Knex, private readonly options: PageCacheOptions) {
    this.maxBytes = options.maxBytes ?? 32 * 1024 * 1024;
    this.reads = hotReads(db);
  }

  /** Counters for tests and the bench: pages kept, their bytes, the revision last seen. */
  stats(): { pages: number; bytes: number; revision: number } {
    return { pages: this.pages.size, bytes: this.bytes, revision: this.current };
  }

  /**
   * Middleware, before anything reads the data: the revision this request works at. If the database does not answer,
   * the request goes on without one (nothing reused) and meets the failure where it did before.
   */
  readonly revision = (req: Request, res: Response, next: NextFunction): void => {
    this.reads.revision().then(
      async (n) => {
        res.locals.revision = n;
        this.advance(n);
        const page = await this.early(req, n).catch(() => null);
        if (page) send(res, page);
        else next();
      },
      () => {
        res.locals.revision = undefined;
        next();
      },
    );
  };

  /**
   * A page kept for this very session in this very state, found from the cookie and the stored session alone, before
   * the session middleware, the user's loading and the routers. Only when none of them would do anything but pass it
   * through: the session signed in, no notice waiting, its expiry and last activity written less than a minute ago (else
   * the full path writes them), and the same state as when the page was computed (so the same user, rights and flags).
   */
  private async early(req: Request, revision: number): Promise<Page | null> {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || NEVER.test(req.path) || this.pages.size === 0) return null;
    const sid = signedSessionId(req.headers.cookie, this.options.cookie);
    if (!sid || !this.options.touchedRecently(sid)) return null;
    const session = await this.reads.session(sid);
    if (!session || session.notice || !(session.passport as { user?: unknown } | undefined)?.user) return null;
    const now = this.options.now().getTime();
    const seenAt = typeof session.seenAt === 'number' ? session.seenAt : null;
    if (seenAt === null || now - seenAt < 0 || now - seenAt >= 60_000) return null;
    if (revision !== this.current) return null;
    const key = this.keyOf(revision, sid, req, stateOf(session));
    const page = this.pages.get(key);
    if (!page) return null;
    this.pages.delete(key);
    this.pages.set(key, page);
    return page;
  }

  private keyOf(revision: number, sid: string, req: Request, state: string): string {
    const minute = Math.floor(this.options.now().getTime() / 60_000);
    return [revision, minute, sid, req.secure ? 's' : '', req.originalUrl, state].join('\n');
  }

  /**
   * A read reused by the requests of the same revision (the organisation's identity, a session's owner…). A request
   * that read an older revision than the latest seen computes its own.
   */
  memo<T>(res: Response, key: string, compute: () => Promise<T>): Promise<T> {
    if (res.locals.revision === undefined || res.locals.revision !== this.current) return compute();
    const known = this.memos.get(key) as Promise<T> | undefined;
    if (known) return known;
    if (this.memos.size >= MAX_MEMOS) this.memos.clear();
    const value = compute();
    this.memos.set(key, value);
    // a failure is not remembered: the next request tries again
    value.catch(() => {
      if (this.memos.get(key) === value) this.memos.delete(key);
    });
    return value;
  }

  /** Middleware, once the session and its user are known: serves a page already computed, or keeps the one computed now. */
  readonly serve = (req: Request, res: Response, next: NextFunction): void => {
    const revision = res.locals.revision as number | undefined;
    if ((req.method !== 'GET' && req.method !== 'HEAD') || revision === undefined || !req.user || res.locals.flash || NEVER.test(req.path)) return next();
    // the session's whole state (its user, a second factor to enrol…): a page computed in one state is not the page of another
    const key = this.keyOf(revision, req.sessionID, req, stateOf(req.session as unknown as Record<string, unknown>));
    const hit = this.pages.get(key);
    if (hit) {
      // most recently used last
      this.pages.delete(key);
      this.pages.set(key, hit);
      send(res, hit);
      return;
    }
    const token = req.session?.csrfToken;
    const before = sessionState(req, token === undefined);
    const headers = res.getHeaderNames().join('\n');
    const render = res.render.bind(res) as (view: string, options?: object, callback?: (err: Error | null, html: string) => void) => void;
    res.render = ((view: string, options?: object | ((err: Error | null, html: string) => void), callback?: (err: Error | null, html: string) => void) => {
      // a view rendered into a string for the route's own use (a mail, a PDF) is none of the cache's business
      if (typeof options === 'function' || callback) return render(view, options as object, callback ?? (options as (err: Error | null, html: string) => void));
      render(view, options, (err, html) => {
        if (err) return req.next!(err);
        const page = { body: html, etag: etagOf(html), bytes: Buffer.byteLength(html) };
        // the session's form token, written by its first page, is the one every later page of the session holds
        const unchanged = res.statusCode === 200 && revision === this.current && res.getHeaderNames().join('\n') === headers
          && sessionState(req, token === undefined) === before;
        if (unchanged) this.keep(key, page);
        send(res, page);
      });
    }) as Response['render'];
    next();
  };

  private keep(key: string, page: Page): void {
    if (page.bytes > MAX_PAGE) return;
    this.pages.set(key, page);
    this.bytes += page.bytes;
    for (const [oldest, old] of this.pages) {
      if (this.bytes <= this.maxBytes) break;
      this.pages.delete(oldest);
      this.bytes -= old.bytes;
    }
  }

  /**
   * A newer revision makes everything kept useless. An older one than the latest seen is either a request that read
   * it just before another's write (it simply keeps nothing) or a database put back to an earlier state: everything
   * is dropped too, so that no page of the abandoned numbering is served again.
   */
  private advance(n: number): void {
    if (n === this.current) return;
    this.current = n;
    this.memos.clear();
    this.pages.clear();
    this.bytes = 0;
  }
}

function send(res: Response, page: Page): void {
  res.set('ETag', page.etag);
  res.set('Cache-Control', 'private, no-cache');
  res.type('html');
  // Express answers 304 to an If-None-Match naming this ETag
  res.send(page.body);
}

function etagOf(body: string): string {
  return `W/"${Buffer.byteLength(body).toString(16)}-${createHash('sha1').update(body).digest('base64url').slice(0, 27)}"`;
}

/** What the session holds but its cookie's expiry (moved by every request), and its form token while it has none. */
function sessionState(req: Request, withoutToken: boolean): string {
  const { cookie: _cookie, csrfToken, ...rest } = (req.session ?? {}) as unknown as Record<string, unknown>;
  return JSON.stringify(withoutToken ? rest : { ...rest, csrfToken });
}

/** A session's state as a key: its fields but the cookie, in a fixed order (the stored JSON's or the live object's). */
function stateOf(session: Record<string, unknown>): string {
  return JSON.stringify(Object.keys(session).filter((k) => k !== 'cookie' && session[k] !== undefined).sort().map((k) => [k, session[k]]));
}

/** The session id of an express-session cookie (`s:<id>.<signature>`), if its signature is the secret's. */
function signedSessionId(header: string | undefined, cookie: { name: string; secret: string }): string | null {
  if (!header) return null;
  const start = header.indexOf(`${cookie.name}=`);
  if (start < 0 || (start > 0 && header[start - 1] !== ' ' && header[start - 1] !== ';')) return null;
  const end = header.indexOf(';', start);
  let value: string;
  try {
    value = decodeURIComponent(header.slice(start + cookie.name.length + 1, end < 0 ? undefined : end).trim());
  } catch {
    return null;
  }
  if (!value.startsWith('s:')) return null;
  const dot = value.lastIndexOf('.');
  if (dot < 3) return null;
  const sid = value.slice(2, dot);
  const given = Buffer.from(value.slice(dot + 1));
  const expected = Buffer.from(createHmac('sha256', cookie.secret).update(sid).digest('base64').replace(/=+$/, ''));
  return given.length === expected.length && timingSafeEqual(given, expected) ? sid : null;
}
