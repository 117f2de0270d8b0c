import type { FastifySerializerCompiler } from 'fastify';
import fastJson from 'fast-json-stringify';
import { serializerCompiler as zodSerializerCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';

type Serialize = (data: unknown) => string;

/** Per schema object (route schemas are module constants: shared by every app in the process). */
const compiled = new WeakMap<z.ZodType, Serialize | null>();

/**
 * A response schema's serializer compiled by fast-json-stringify from the schema's JSON Schema
 * (what /docs shows): it writes the declared fields only, in the schema's order, without
 * walking the schema at every answer. Null when the JSON Schema cannot express the schema (a
 * transform, a date): such a route keeps Zod's serializer. Compiled at a route's first answer,
 * not at start-up (a few ms a schema; tests build many apps).
 */
export function fastSerializer(schema: z.ZodType): Serialize | null {
  let fn = compiled.get(schema);
  if (fn === undefined) {
    try {
      const json = z.toJSONSchema(schema, { io: 'output', target: 'draft-7', unrepresentable: 'throw' });
      fn = fastJson(loosened(json) as Parameters<typeof fastJson>[0]) as Serialize;
    } catch {
      fn = null;
    }
    compiled.set(schema, fn);
  }
  return fn;
}

/**
 * The JSON Schema as fast-json-stringify should see it (nullable schemas made plain, see
 * nullableOf), with two things left out:
 * - `required` lists: fast-json-stringify writes required properties before optional ones, and
 *   answers keep the schema's order (Zod's, byte for byte). A required property missing from a
 *   value is then left out instead of failing the answer (`checked` serialization fails on it).
 * - `additionalProperties: false`: it picks the branch of a union (a nullable object is one) by
 *   validating the value, and a value with a field the schema does not declare would match no
 *   branch, where Zod drops the field. Undeclared fields are never written either way.
 */
function loosened(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(loosened);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  const properties = (node as { properties?: unknown }).properties;
  const isObjectSchema = typeof properties === 'object' && properties !== null;
  for (const [key, value] of Object.entries(node)) {
    if (isObjectSchema && key === 'required' && Array.isArray(value)) continue;
    if (isObjectSchema && key === 'additionalProperties' && value === false) continue;
    out[key] = loosened(value);
  }
  return nullableOf(out) ?? out;
}

/**
 * `anyOf: [X, {type: "null"}]` (Zod's nullable) as X with `nullable: true`: fast-json-stringify
 * picks an anyOf branch by validating the value with Ajv (a date-time string's format check
 * cost more than the rest of a small answer), and writes a nullable schema with one test.
 */
function nullableOf(schema: Record<string, unknown>): Record<string, unknown> | undefined {
  const branches = schema.anyOf;
  if (!Array.isArray(branches) || branches.length !== 2) return undefined;
  const isNull = (b: unknown) =>
    typeof b === 'object' && b !== null && Object.keys(b).length === 1 && (b as { type?: unknown }).type === 'null';
  const other = (isNull(branches[1]) ? branches[0] : isNull(branches[0]) ? branches[1] : undefined) as
    | Record<string, unknown>
    | undefined;
  if (!other || '$ref' in other || 'anyOf' in other || 'oneOf' in other || 'allOf' in other) return undefined;
  const { anyOf: _branches, ...rest } = schema;
  return { ...rest, ...other, nullable: true };
}

/**
 * Serializes answers through their route's response schema. Zod's serializer (the type
 * provider's: encode, then JSON.stringify) cost about 7 µs of an answer's CPU where
 * fast-json-stringify costs under 1 µs; it now serves only the schemas JSON Schema cannot express.
 *
 * `checked` (development and tests): every answer also goes through Zod's serializer, which
 * fails on a value that does not match the schema (fast-json-stringify would coerce it), and
 * the two outputs must be the same bytes. The test suite thereby checks the fast serializer
 * against Zod on every answer it gets.
 */
export function createSerializerCompiler(options: { checked: boolean }): FastifySerializerCompiler<z.ZodType> {
  return (route) => {
    const zod = zodSerializerCompiler(route) as Serialize;
    const schema = route.schema instanceof z.ZodType ? route.schema : null;
    /** undefined until the first answer; null: Zod's. */
    let fast: Serialize | null | undefined;
    return (data) => {
      if (fast === undefined) fast = schema ? fastSerializer(schema) : null;
      if (fast === null) return zod(data);
      if (!options.checked) return fast(data);
      const expected = zod(data);
      const out = fast(data);
      if (out !== expected) {
        // Where they part, not what they wrote: answers may hold secrets (a new key), errors are logged.
        let at = 0;
        while (out[at] === expected[at]) at++;
        throw new Error(
          `The fast serializer of ${route.method} ${route.url} (${route.httpStatus}) and Zod's differ at character ${at}`,
        );
      }
      return out;
    };
  };
}
