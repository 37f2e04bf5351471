/**
 * Process-wide state shared by every installed copy of probekit with the same major
 * version. An application and a library that each depend on probekit may load two
 * copies; the default registry, the error store, the context storage and the shutdown
 * registry must still be one, or the library's metrics never reach `/metrics`. They
 * live behind a `Symbol.for` global, keyed by major version: copies of one major share
 * them; a copy of another major keeps its own and warns once.
 */

/** This copy's major version; a test checks it against package.json. */
export const MAJOR = 0;

const KEY = Symbol.for('probekit.shared');

type Slots = Record<string, unknown>;

let warned = false;

/** Where the state lives when the global cannot take it (a frozen `globalThis`): this copy alone. */
let local: Record<string, Slots> | undefined;

function all(): Record<string, Slots> {
  const holder = globalThis as unknown as Record<symbol, Record<string, Slots> | undefined>;
  const found = holder[KEY];
  if (found !== undefined) return found;
  if (local !== undefined) return local;
  const made = Object.create(null) as Record<string, Slots>;
  try {
    Object.defineProperty(globalThis, KEY, { value: made, enumerable: false, writable: false, configurable: false });
  } catch {
    local = made; // a frozen or locked-down global: this copy keeps its own state, and still works
  }
  return made;
}

/**
 * The shared value called `name`, made by `create` in the first copy that asks. Every
 * copy of this major gets the same object.
 */
export function shared<T>(name: string, create: () => T): T {
  const majors = all();
  const key = String(MAJOR);
  let slots = majors[key];
  if (slots === undefined) {
    slots = Object.create(null) as Slots;
    majors[key] = slots;
  }
  if (!warned) {
    const others = Object.keys(majors).filter((m) => m !== key);
    if (others.length > 0) {
      warned = true;
      process.emitWarning(
        `probekit: probekit ${MAJOR}.x and ${others.map((m) => `${m}.x`).join(', ')} are both loaded in this process; ` +
          'each major version keeps its own default registry, error store and context, so metrics recorded through one are not exported by the other. ' +
          'Install one major version (npm ls probekit shows who brings each).',
        { code: 'PROBEKIT_VERSION_SPLIT' },
      );
    }
  }
  if (!(name in slots)) slots[name] = create();
  return slots[name] as T;
}
