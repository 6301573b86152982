import type { NextFunction, Request, Response } from 'express';

/**
 * Marks every response `Cache-Control: no-store`: they carry one organization's data for one user (users' emails,
 * crops), which neither a browser's disk cache nor a shared cache may keep. Static assets that set their own
 * header (Swagger UI's) override it. The API sends no validators (the app turns Express's ETag off) and answers no
 * conditional request: their headers are dropped, or Express would still answer `If-None-Match: *` with a 304,
 * which no operation of the OpenAPI document declares.
 */
export function noStore(req: Request, res: Response, next: NextFunction): void {
  delete req.headers['if-none-match'];
  delete req.headers['if-modified-since'];
  res.setHeader('Cache-Control', 'no-store');
  next();
}
