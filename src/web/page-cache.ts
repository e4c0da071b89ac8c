import { createHash } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Knex } from 'knex';
import { readRevision } from '../data/revision';

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

  constructor(private readonly db: Knex, private readonly options: PageCacheOptions) {
    this.maxBytes = options.maxBytes ?? 32 * 1024 * 1024;
  }

  /** Counters for tests and the bench: pages kept, their bytes, the revision last seen. */
  stats(): { pages: number; bytes: number; revision: number } {
    return { pages: this.pages.size, bytes: this.bytes, revision: this.current };
  }

  /**
   * Middleware, before anything reads the data: the revision this request works at. If the database does not answer,
   * the request goes on without one (nothing reused) and meets the failure where it did before.
   */
  readonly revision = (_req: Request, res: Response, next: NextFunction): void => {
    readRevision(this.db).then(
      (n) => {
        res.locals.revision = n;
        this.advance(n);
        next();
      },
      () => {
        res.locals.revision = undefined;
        next();
      },
    );
  };

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
    const minute = Math.floor(this.options.now().getTime() / 60_000);
    const session = sessionState(req, false);
    // the session's whole state: a page computed before a flag was set (a second factor to enrol…) is not the page after
    const key = [revision, minute, req.sessionID, req.user.id, req.user.role, req.secure ? 's' : '', req.originalUrl, session].join('\n');
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
