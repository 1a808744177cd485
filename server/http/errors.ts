import type express from 'express';
import { ConsentMissingError } from '../data/enroll.ts';
import { ConflictError, InvalidRequestError, NotFoundError, requestName } from '../errors.ts';

/** A name from the URL (dataset, identity, pair...), checked as names are everywhere: a 400 otherwise. */
export function nameParam(req: express.Request, param: string, kind = param): string {
  return requestName(kind, String(req.params[param] ?? req.query[param] ?? ''));
}

function statusOf(error: Error & { status?: number; type?: string }): number {
  if (error instanceof ConsentMissingError) return 403;
  if (error instanceof InvalidRequestError) return 400;
  if (error instanceof NotFoundError) return 404;
  if (error instanceof ConflictError) return 409;
  // body-parser's own errors: malformed JSON, a body over the limit, a wrong content type.
  if (typeof error.status === 'number' && error.status >= 400 && error.status < 500) return error.status;
  return 500;
}

/** The last middleware: every error becomes `{error}` with the status its class calls for. */
export const answerErrors: express.ErrorRequestHandler = (error: Error, _req, res, next) => {
  if (res.headersSent) return next(error);
  const status = statusOf(error);
  if (status === 500) console.error(error);
  res.status(status).json({ error: status === 413 ? 'the request body is too large' : error.message });
};
