/** The prediction a model makes when it is not confident the face is anyone it knows. */
export const UNKNOWN = 'unknown';

/** The condition folder of photos where the person wears nothing. */
export const CLEAN = 'clean';

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Identity, condition, dataset and model names become folder names: letters, digits, `.`, `_`
 * and `-`, at most 64 characters, never a path separator or `..`. Throws a message naming the problem.
 */
export function checkName(kind: string, name: string): string {
  if (name.includes('/') || name.includes('\\')) throw new Error(`${kind} name "${name}" contains a path separator`);
  if (name.includes('..')) throw new Error(`${kind} name "${name}" contains ".."`);
  if (!NAME_PATTERN.test(name)) {
    throw new Error(`${kind} name "${name}" is not allowed: use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit`);
  }
  if (kind === 'identity' && name === UNKNOWN) throw new Error(`identity name "${UNKNOWN}" is reserved for rejected faces`);
  return name;
}
