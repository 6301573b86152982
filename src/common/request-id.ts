import type { NextFunction, Request, Response } from 'express';
import { randomUUID } from 'node:crypto';

/** What a client may send as X-Request-Id to be echoed: short, printable, nothing a log line could be forged with. */
export const ACCEPTABLE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Gives every request an id: the client's X-Request-Id when it is acceptable, else a new UUID. It is echoed in the
 * response's X-Request-Id and left in the request's headers for log lines.
 */
export function requestId(req: Request, res: Response, next: NextFunction): void {
  const sent = req.headers['x-request-id'];
  const id = typeof sent === 'string' && ACCEPTABLE_ID.test(sent) ? sent : randomUUID();
  req.headers['x-request-id'] = id;
  res.setHeader('X-Request-Id', id);
  next();
}
