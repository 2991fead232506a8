/**
 * The national console's pages on a hub: `/` is the national overview (nation → province → city →
 * county), `/console/national-map.html` the tile-grid map of the provinces, from the console's static
 * directory (the same CSS, chart library and helpers as a province's pages).
 */
import { join } from 'node:path';
import express, { Router } from 'express';
import { staticDir, vendorFiles } from '../../console/static.js';
import { sendError } from '../../http/errors.js';

const HEADERS = { 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff', 'Content-Security-Policy': "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'" };

/** Pages of the hub: `/` the national overview, the rest under `/console/`. */
export function hubStaticRouter(): Router {
  const dir = staticDir();
  const vendor = vendorFiles();
  const router = Router();
  router.get('/', (_req, res) => {
    res.set(HEADERS).sendFile(join(dir, 'national.html'));
  });
  router.get('/console', (_req, res) => res.redirect(301, '/'));
  router.get('/console/vendor/:file', (req, res, next) => {
    const file = vendor[req.params.file];
    if (!file) return next();
    res.set(HEADERS).sendFile(file);
  });
  router.use('/console', (req, res, next) => {
    // A province's pages read school-level APIs a hub does not have: only the national pages are served here.
    if (/\.html$/.test(req.path) && !/^\/national[\w-]*\.html$/.test(req.path)) return sendError(res, 'COL_ERR_NOT_FOUND', `${req.originalUrl} is a province's page: a national hub serves / and /console/national-map.html`);
    res.set(HEADERS);
    next();
  }, express.static(dir, { index: false, redirect: false, fallthrough: true, dotfiles: 'ignore' }));
  return router;
}
