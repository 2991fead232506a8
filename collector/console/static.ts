/**
 * The console's static files: the pages under `static/` and the chart library from node_modules
 * (never a CDN: many provincial networks have no internet). Data never goes into HTML on the server.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router } from 'express';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Where the pages are: beside this file when run from source; from `dist/collector/console/` (tsc
 * copies no HTML) they are found in the source tree the build came from.
 */
export function staticDir(): string {
  const candidates = [join(here, 'static'), join(here, '..', '..', '..', 'collector', 'console', 'static')];
  const found = candidates.find((d) => existsSync(join(d, 'index.html')));
  if (!found) throw new Error(`console pages not found (looked in ${candidates.join(', ')})`);
  return found;
}

/** The uPlot files served at /console/vendor/. */
export function vendorFiles(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const dist = join(dirname(require.resolve('uplot/package.json')), 'dist');
  return { 'uplot.esm.js': join(dist, 'uPlot.esm.js'), 'uplot.min.css': join(dist, 'uPlot.min.css') };
}

/** Pages: `/` is the overview; the rest live under `/console/`. */
export function staticRouter(): Router {
  const dir = staticDir();
  const vendor = vendorFiles();
  const router = Router();
  const noStore = { 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff', 'Content-Security-Policy': "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'" };
  router.get('/', (_req, res) => {
    res.set(noStore).sendFile(join(dir, 'index.html'));
  });
  router.get('/console', (_req, res) => res.redirect(301, '/'));
  router.get('/console/vendor/:file', (req, res, next) => {
    const file = vendor[req.params.file];
    if (!file) return next();
    res.set(noStore).sendFile(file);
  });
  router.use('/console', (_req, res, next) => {
    res.set(noStore);
    next();
  }, express.static(dir, { index: false, redirect: false, fallthrough: true, dotfiles: 'ignore' }));
  return router;
}
