// Hostile requests over every route of the router, as every role: malformed ids, escapes, arrays and objects
// where strings are expected, impossible dates, broken bodies and content types. Fails on any 5xx or logged crash.
// Slow (about 6 minutes), so not in npm test: npm run test:hostile
import { expect } from 'chai';
import type { Express } from 'express';
import request from 'supertest';
import { ACCOUNTS, csrfOf, freshApp, signIn, type TestApp } from '../helpers';

interface LayerLike { route?: { path: unknown; methods: Record<string, boolean> }; handle?: { stack?: LayerLike[] }; rawPath?: unknown }
function joinPath(prefix: string, path: string): string { const j = `${prefix}${path === '/' ? '' : path}`; return j === '' ? '/' : j; }
function collect(stack: LayerLike[], prefix: string, out: Set<string>): void {
  for (const layer of stack) {
    if (layer.route) {
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      for (const p of paths) for (const [m, on] of Object.entries(layer.route.methods)) if (on) out.add(`${m.toUpperCase()} ${joinPath(prefix, String(p))}`);
    } else if (layer.handle?.stack) {
      const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
      collect(layer.handle.stack, joinPath(prefix, mount) === '/' ? '' : joinPath(prefix, mount), out);
    }
  }
}
const routesOf = (app: Express) => { const s = new Set<string>(); collect((app as unknown as { router: { stack: LayerLike[] } }).router.stack, '', s); return [...s]; };

const PARAMS = ['1', '2', '3', '999999', '%ZZ', 'abc', '-1', '1e3', '0x10', '%E2%80%8B1', 'x'.repeat(300)];
const names = ['title', 'number', 'version', 'status', 'targetDate', 'date', 'startTime', 'endTime', 'email', 'name', 'role', 'communeId', 'team', 'teamId', 'scope', 'coverage', 'kind', 'body', 'notedOn', 'password', 'current', 'confirm', 'code', 'period', 'frequency', 'weekday', 'ordinal', 'time', 'serviceId', 'environment', 'position', 'label', 'level', 'months', 'signed', 'signedBy', 'decidedOn', 'conditions', 'decision', 'organisation', 'reminder', 'idleMinutes', 'freezeAfter', 'minLength', 'maxLength', 'history', 'retentionMonths', 'instanceIds', 'ficheIds', 'userIds', 'function', 'from', 'to', 'action', 'author', 'entity', 'page', 'q',
  // rollout, bulk changes and commune answers
  'selection', 'dueOn', 'note', 'v_1', 'v_999999', 'ids', 'change', 'owner', 'seen-1', 'answer', 'comment', 'fingerprint', 'retour', 'type', 'etat', 'environnement', 'commune', 'service'];
function bodies(csrf: string): string[] {
  const enc = (o: Record<string, string>) => Object.entries(o).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  const out: string[] = [];
  const base = { _csrf: csrf };
  out.push(enc(base));
  for (const v of ['', 'abc', '-1', '99999999999999999999', '0000-01-01', '2026-02-30', '25:00', 'on', 'true', 'part', 'all', '1', '\u0000', '<script>', '=1+1', 'é'.repeat(6000)]) {
    const o: Record<string, string> = { ...base };
    for (const n of names) o[n] = v;
    out.push(enc(o));
  }
  // structural abuse: arrays and objects where strings are expected
  out.push(`_csrf=${csrf}&` + names.map((n) => `${n}[]=a&${n}[]=b`).join('&'));
  out.push(`_csrf=${csrf}&` + names.map((n) => `${n}[x]=a`).join('&'));
  out.push(`_csrf=${csrf}&steps=x&owners=y&effects=z&counts=w&guests=v`);
  out.push(`_csrf=${csrf}&steps[0]=x&owners[0]=y&effects[0][level]=fort&counts[0][count]=a&guests[0][name][x]=1`);
  out.push(`_csrf=${csrf}&steps[9999][label]=x&steps[9999][id]=abc&steps[1][id]=999999&owners[0][teamId]=abc&owners[0][serviceId]=-1`);
  out.push(`_csrf=${csrf}&_action=zzz&_action=save`);
  out.push(`_csrf=${csrf}&_action=move-up-99999&_action=remove-abc`);
  return out;
}

describe('hostile requests over every route', function () {
  this.timeout(1_200_000);
  let t: TestApp;
  it('answers no 5xx and logs no crash, for anyone, on any route', async () => {
    const errors: string[] = [];
    const orig = console.error;
    console.error = (...a: unknown[]) => { errors.push(a.map(String).join(' ').slice(0, 300)); };
    const bad: string[] = [];
    try {
      for (const who of ['anon', ACCOUNTS.admin, ACCOUNTS.editor, ACCOUNTS.commune, ACCOUNTS.communeAdmin]) {
        if (t) await t.close();
        t = await freshApp();
        const agent = who === 'anon' ? request.agent(t.app) : await signIn(t.app, who);
        const page = await agent.get(who === 'anon' ? '/connexion' : '/compte');
        let csrf = ''; try { csrf = csrfOf(page.text); } catch { /* */ }
        for (const route of routesOf(t.app)) {
          const [method, path] = route.split(' ') as [string, string];
          if (path.includes('deconnexion')) continue;
          const paramCount = (path.match(/:\w+/g) ?? []).length;
          const variants = paramCount ? PARAMS.map((p) => path.replace(/:\w+/g, p)) : [path];
          for (const url of variants) {
            if (method === 'GET') {
              for (const q of ['', '?page=-1&filtre[x]=1&q[]=a&status=zzz&from=0000-01-01&to=2026-13-01&sort=%ZZ', '?retour=//evil.example&period=abc&export=zzz']) {
                const r = await agent.get(url + q);
                if (r.status >= 500) bad.push(`${who} GET ${url}${q} -> ${r.status}`);
              }
            } else {
              for (const b of bodies(csrf)) {
                const r = await agent.post(url).type('form').send(b);
                if (r.status >= 500) bad.push(`${who} POST ${url} [${b.slice(0, 80)}] -> ${r.status}`);
              }
              for (const [ct, body] of [['application/json', '{"a":'], ['text/plain', 'x'], ['application/x-www-form-urlencoded; charset=latin1', 'a=b'], ['multipart/form-data; boundary=x', '--x\r\n']]) {
                const r = await agent.post(url).set('Content-Type', ct!).send(body);
                if (r.status >= 500) bad.push(`${who} POST ${url} ct=${ct} -> ${r.status}`);
              }
            }
          }
        }
        // state may have been changed by the admin (suspended accounts...), re-sign-in handles it
      }
    } finally { console.error = orig; await t.close(); }
    console.log(`500s: ${bad.length}`); console.log([...new Set(bad)].slice(0, 60).join('\n'));
    console.log(`console.error: ${errors.length}`); console.log([...new Set(errors)].slice(0, 20).join('\n'));
    expect(bad).to.deep.equal([]);
    expect(errors).to.deep.equal([]);
  });
});
