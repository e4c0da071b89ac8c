import type { NextFunction, Request, Response } from 'express';

export interface Notice { text: string; kind: 'success' | 'info' }

declare module 'express-session' {
  interface SessionData {
    /** What the last change did, told once on the page the browser lands on after the redirect. */
    notice?: Notice;
  }
}

/**
 * Every save answers with a redirect (303), which leaves nothing on screen to say it worked: the message rides
 * in the session to the next page. Set it only on success, just before redirecting.
 */
export function notify(req: Request, text: string, kind: Notice['kind'] = 'success'): void {
  // before sign-in there is no session worth creating for a message
  if (req.session) req.session.notice = { text, kind };
}

/**
 * Hands the pending notice to the views as `flash` (not `notice`: some views already take a `notice` of their
 * own) and forgets it. Only a GET page takes it: a form sent again with errors keeps it for the page after.
 */
export function takeNotice(req: Request, res: Response, next: NextFunction): void {
  res.locals.flash = null;
  if (req.method === 'GET' && req.session?.notice && isPage(req)) {
    res.locals.flash = req.session.notice;
    delete req.session.notice;
  }
  next();
}

/**
 * A page a person reads, not a file (an agenda's PDF, an invitation, a CSV export, a logo) nor a resource the page
 * loads: a browser says so (Sec-Fetch-Dest: document); without that header, an address ending in a file extension is a file.
 */
function isPage(req: Request): boolean {
  const dest = req.get('sec-fetch-dest');
  if (dest) return dest === 'document';
  return !/\.[a-z0-9]{2,4}$/i.test(req.path);
}
