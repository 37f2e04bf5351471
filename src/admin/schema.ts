/**
 * The input schema of an action: a small documented shape, `{ field: 'string' | 'number'
 * | 'boolean' }`, checked against the JSON body of `POST /actions/:name` before the action
 * runs. Every field is optional; a field of another type, a field the schema does not
 * name, or a body that is not a JSON object is a 400.
 */
import { typeError } from '../util/validate.js';

/** The type a field of an action's input takes. */
export type FieldType = 'string' | 'number' | 'boolean';

/** An action's input schema: field names and their types. */
export type InputSchema = Readonly<Record<string, FieldType>>;

const TYPES: readonly string[] = ['string', 'number', 'boolean'];

/** Checks a schema where an action is defined; returns a copy. */
export function checkSchema(where: string, value: unknown): InputSchema {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw typeError(where, "an object of field names to 'string', 'number' or 'boolean'", value);
  const out: Record<string, FieldType> = {};
  for (const [field, type] of Object.entries(value)) {
    if (typeof type !== 'string' || !TYPES.includes(type)) throw typeError(`${where.replace(/"$/, '')}.${field}"`, "'string', 'number' or 'boolean'", type);
    out[field] = type as FieldType;
  }
  return out;
}

/** The schema an action declares as `opts.input`, or `undefined` when it declares none (or one of another shape). */
export function schemaOf(opts: unknown): InputSchema | undefined {
  if (opts === null || typeof opts !== 'object') return undefined;
  const input = (opts as { input?: unknown }).input;
  try {
    return input === undefined ? undefined : checkSchema('input', input);
  } catch {
    return undefined;
  }
}

/** Why `body` does not fit `schema`, or `undefined` when it does. */
export function mismatch(schema: InputSchema, body: unknown): string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'the body must be a JSON object';
  for (const [field, value] of Object.entries(body)) {
    const type = schema[field];
    if (type === undefined) {
      const known = Object.keys(schema);
      return `unknown field "${field}"; ${known.length === 0 ? 'this action takes no input' : `known fields are: ${known.join(', ')}`}`;
    }
    if (typeof value !== type || (type === 'number' && !Number.isFinite(value))) return `field "${field}" must be a ${type}`;
  }
  return undefined;
}
