import type { z } from 'zod';
import { checkName } from '../shared/names.ts';

/**
 * Errors that name what was wrong with a request, so the HTTP and socket edges can answer with the
 * right status (400, 404, 409) instead of a server error.
 */
export class InvalidRequestError extends Error {
  override name = 'InvalidRequestError';
}

export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

/** The request is well formed but clashes with what exists (a name taken, a pair in use). */
export class ConflictError extends Error {
  override name = 'ConflictError';
}

/** A name from a request (dataset, identity, condition, model), checked as names are everywhere: an InvalidRequestError otherwise. */
export function requestName(kind: string, name: string): string {
  try {
    return checkName(kind, name);
  } catch (error) {
    throw new InvalidRequestError((error as Error).message);
  }
}

/** Every problem a schema found, each after the path of the field it is in (`whole` for the value itself). */
export function describeIssues(error: z.ZodError, whole?: string): string {
  return error.issues.map((i) => {
    const where = i.path.join('.') || whole;
    return where ? `${where}: ${i.message}` : i.message;
  }).join('; ');
}

/** A request body parsed against its schema: an InvalidRequestError naming every problem otherwise. */
export function parseRequest<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new InvalidRequestError(describeIssues(parsed.error, 'body'));
  return parsed.data;
}
