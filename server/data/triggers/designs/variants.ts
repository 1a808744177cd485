/** Every `style-colour` combination, in a stable order. */
export function combine(styles: readonly string[], colours: readonly string[]): string[] {
  return styles.flatMap((style) => colours.map((colour) => `${style}-${colour}`));
}

/** Splits a `style-colour` variant made by `combine`, refusing names it did not make. */
export function splitVariant<S extends string, C extends string>(
  trigger: string,
  variant: string,
  styles: readonly S[],
  colours: readonly C[],
): { style: S; colour: C } {
  const style = styles.find((s) => variant.startsWith(`${s}-`));
  const colour = colours.find((c) => variant === `${style}-${c}`);
  if (style === undefined || colour === undefined) throw unknownVariant(trigger, variant, combine(styles, colours));
  return { style, colour };
}

export function unknownVariant(trigger: string, variant: string, available: readonly string[]): Error {
  return new Error(`unknown ${trigger} variant "${variant}"; available: ${available.join(', ')}`);
}

/** The entry of `table` a variant names. */
export function lookupVariant<T>(trigger: string, table: Record<string, T>, variant: string): T {
  if (!Object.hasOwn(table, variant)) throw unknownVariant(trigger, variant, Object.keys(table));
  return table[variant];
}
