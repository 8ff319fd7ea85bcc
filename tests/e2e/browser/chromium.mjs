// What the browser tests share (browser.e2e.mjs, browser-auth.e2e.mjs): a page's code bundled
// with esbuild, a static server on 127.0.0.1 for it, a HOME whose NSS database trusts the local
// CA as a developer makes Chromium trust it, and Debian's Chromium with a fresh profile, driven
// by playwright-core.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
export const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The page's code (`entry`) and what it imports, as one ES module for the browser. */
export async function bundle(entry) {
  const bundled = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  return bundled.outputFiles[0].contents;
}

/** A static server on 127.0.0.1 for the page, its bundle and its configuration. */
export async function serveSite(files) {
  const http = createServer((request, response) => {
    const name = new URL(request.url, 'http://x').pathname.slice(1) || 'index.html';
    const file = files[name];
    if (!file) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(file.body);
  });
  await new Promise((done) => http.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${http.address().port}/`,
    close: () => new Promise((done) => http.close(done)),
  };
}

/** A HOME in `work` whose NSS database trusts `ca` for TLS servers (none when `ca` is null). */
export function homeTrusting(work, ca) {
  const home = mkdtempSync(join(work, 'home-'));
  const db = join(home, '.pki', 'nssdb');
  mkdirSync(db, { recursive: true });
  execFileSync('certutil', ['-d', `sql:${db}`, '-N', '--empty-password']);
  if (ca) execFileSync('certutil', ['-d', `sql:${db}`, '-A', '-t', 'C,,', '-n', 'trainers-local-ca', '-i', ca]);
  return home;
}

/** Chromium with FLAGS, a fresh profile in `work` and the given HOME (`options`: more of playwright's). */
export function launch(work, home, options = {}) {
  return chromium.launchPersistentContext(mkdtempSync(join(work, 'profile-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    env: { ...process.env, HOME: home },
    ...options,
  });
}
