import type { NextFunction, Request, Response } from 'express';

/** Swagger UI's static files (the app serves it at /docs): cacheable, with their own validators. */
const DOCS_ASSETS = '/docs/';

/**
 * Marks the API's responses `Cache-Control: no-store`: they carry one organization's data for one user (users'
 * emails, crops), which neither a browser's disk cache nor a shared cache may keep. They send no validators (the
 * app turns Express's ETag off) and answer no conditional request: its headers are dropped, or Express would still
 * answer `If-None-Match: *` with a 304, which no operation of the OpenAPI document declares. Swagger UI's static
 * files are left to their file server (ETag, Last-Modified, 304s).
 */
export function noStore(req: Request, res: Response, next: NextFunction): void {
  if (req.path.startsWith(DOCS_ASSETS)) {
    next();
    return;
  }
  delete req.headers['if-none-match'];
  delete req.headers['if-modified-since'];
  res.setHeader('Cache-Control', 'no-store');
  next();
}
