/** "a, b, c or d": a list of fixed values in a help text, from the same list completion offers. */
export const orList = (words: readonly string[]): string =>
  words.length < 2 ? words.join("") : `${words.slice(0, -1).join(", ")} or ${words.at(-1)}`;

/** "a (default), b or c": the first value is what none means. */
export const withDefault = (words: readonly string[]): string =>
  `${words[0]} (default), ${orList(words.slice(1))}`;
