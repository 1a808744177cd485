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
