/** One warning per text: what init() could not start or read never throws into the app. */
const warned = new Set<string>();
/** Warns once per text (`process.emitWarning` with `code`). */
export function warnOnce(message: string, code: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  process.emitWarning(message, { code });
}

