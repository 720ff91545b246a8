/**
 * Validates an object against a CRD's structural openAPIV3Schema (the subset Kubernetes allows
 * in CRDs): type, properties, required, items, additionalProperties, enum, pattern,
 * min/maxLength, minimum/maximum, min/maxItems, anyOf, x-kubernetes-int-or-string and
 * x-kubernetes-preserve-unknown-fields. Fields the schema does not know are errors (the API
 * server would prune them silently, or refuse them with strict field validation). CEL rules
 * (x-kubernetes-validations) are not evaluated; `celRules` lists them so a test can check the
 * ones that matter by hand.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Structural {
  type?: string;
  properties?: Record<string, Structural>;
  required?: string[];
  items?: Structural;
  additionalProperties?: boolean | Structural;
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  anyOf?: Structural[];
  format?: string;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-validations'?: { rule: string; message?: string }[];
}

export interface CrdSchema {
  $source: string;
  group: string;
  kind: string;
  version: string;
  openAPIV3Schema: Structural;
}

const DIR = join(import.meta.dirname, 'crd-schemas');

export function loadCrdSchema(file: string): CrdSchema {
  return JSON.parse(readFileSync(join(DIR, file), 'utf8')) as CrdSchema;
}

/** Go RE2 patterns as JS RegExps: RE2's leading `(?i)` becomes the `i` flag. */
function regex(pattern: string): RegExp {
  return pattern.startsWith('(?i)') ? new RegExp(pattern.slice(4), 'i') : new RegExp(pattern);
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Every problem found, as `path: message`; empty when the object is valid. */
export function validateStructural(value: unknown, schema: Structural, path = ''): string[] {
  const errors: string[] = [];
  const at = path || '<root>';
  if (schema.anyOf && !schema['x-kubernetes-int-or-string']) {
    const ok = schema.anyOf.some((s) => validateStructural(value, { ...schema, anyOf: undefined, ...s }, path).length === 0);
    if (!ok) errors.push(`${at}: matches none of anyOf`);
    return errors;
  }
  if (schema['x-kubernetes-int-or-string']) {
    const t = typeOf(value);
    if (t !== 'integer' && t !== 'string') errors.push(`${at}: must be an integer or a string, got ${t}`);
    return errors;
  }
  const t = typeOf(value);
  if (schema.type) {
    const fits = schema.type === t || (schema.type === 'number' && t === 'integer');
    if (!fits) return [`${at}: must be ${schema.type}, got ${t}`];
  }
  if (schema.enum && !schema.enum.includes(value))
    errors.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (typeof value === 'string') {
    if (schema.pattern && !regex(schema.pattern).test(value)) errors.push(`${at}: "${value}" does not match ${schema.pattern}`);
    if (schema.minLength !== undefined && value.length < schema.minLength) errors.push(`${at}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) errors.push(`${at}: longer than ${schema.maxLength}`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${at}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${at}: above ${schema.maximum}`);
    if (schema.format === 'int32' && (value < -(2 ** 31) || value >= 2 ** 31)) errors.push(`${at}: not an int32`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems)
      errors.push(`${at}: fewer than ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errors.push(`${at}: more than ${schema.maxItems} items`);
    if (schema.items) value.forEach((v, i) => errors.push(...validateStructural(v, schema.items!, `${path}[${i}]`)));
  }
  if (t === 'object') {
    const obj = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in obj)) errors.push(`${at}: ${r} is required`);
    for (const [k, v] of Object.entries(obj)) {
      const child = schema.properties?.[k];
      const p = path ? `${path}.${k}` : k;
      if (child) errors.push(...validateStructural(v, child, p));
      else if (typeof schema.additionalProperties === 'object')
        errors.push(...validateStructural(v, schema.additionalProperties, p));
      else if (schema.additionalProperties === true || schema['x-kubernetes-preserve-unknown-fields']) continue;
      else if (schema.properties || schema.additionalProperties === false) errors.push(`${p}: unknown field`);
    }
  }
  return errors;
}

/** The CEL rules of a schema (not evaluated by validateStructural), with their paths. */
export function celRules(schema: Structural, path = ''): { path: string; rule: string }[] {
  const out = (schema['x-kubernetes-validations'] ?? []).map((v) => ({ path: path || '<root>', rule: v.rule }));
  for (const [k, s] of Object.entries(schema.properties ?? {})) out.push(...celRules(s, path ? `${path}.${k}` : k));
  if (schema.items) out.push(...celRules(schema.items, `${path}[]`));
  return out;
}
