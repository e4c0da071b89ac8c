import { mkdtempSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import ejs from 'ejs';
import { precompileViews, VIEW_OPTIONS } from '../src/web/views-cache';

const countViews = (dir: string): number => readdirSync(dir, { withFileTypes: true })
  .reduce((n, e) => n + (e.isDirectory() ? countViews(path.join(dir, e.name)) : e.name.endsWith('.ejs') ? 1 : 0), 0);

describe('views compiled at start (src/web/views-cache.ts)', () => {
  it("compiles every one of the app's views, none failing", async () => {
    const dir = path.resolve('views');
    const { compiled, failed } = await precompileViews(dir);
    expect(failed).to.deep.equal([]);
    expect(compiled).to.equal(countViews(dir)).and.to.be.above(50);
    expect(ejs.cache.get(path.join(dir, 'dashboard', 'index.ejs'))).to.be.a('function');
  });

  it('renders a precompiled view, its includes and escaping as the engine would compile them', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'views-'));
    mkdirSync(path.join(dir, 'partials'));
    writeFileSync(path.join(dir, 'page.ejs'), '<p><%= name %></p><%- include("partials/part", { n: 2 }) %>');
    writeFileSync(path.join(dir, 'partials', 'part.ejs'), '<i><%= n * 2 %></i>');
    writeFileSync(path.join(dir, 'broken.ejs'), '<% if (x) { %>');
    const silenced = console.error;
    console.error = () => undefined;
    try {
      const { compiled, failed } = await precompileViews(dir);
      expect(compiled).to.equal(2);
      expect(failed).to.deep.equal(['broken.ejs']);
    } finally {
      console.error = silenced;
    }
    // the engine's own call reads the function compiled at start from the cache (the file changed since is not read again)
    writeFileSync(path.join(dir, 'page.ejs'), 'not read');
    const html = await new Promise<string>((resolve, reject) => {
      ejs.renderFile(path.join(dir, 'page.ejs'), { name: '<b>&' }, VIEW_OPTIONS, (err, out) => (err ? reject(err) : resolve(out)));
    });
    expect(html).to.equal('<p>&lt;b&gt;&amp;</p><i>4</i>');
  });
});
