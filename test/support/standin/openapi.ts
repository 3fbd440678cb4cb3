import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { PROJECT_ROOT } from '../fixture-repo.js';

// Checks every request and response of the REST stand-in against GitHub's official OpenAPI description
// (the subset committed by scripts/trim-openapi.mjs), so the stand-in cannot drift from the real API.

const SUBSET = path.join(PROJECT_ROOT, 'test', 'fixtures', 'github-openapi-subset.json');
const DOCUMENT_ID = 'github-openapi';

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema: { type?: string };
}

interface Operation {
  operationId: string;
  externalDocs?: { url: string };
  parameters?: Array<Parameter | { $ref: string }>;
  requestBody?: { required?: boolean; content: { 'application/json': { schema: unknown } } };
  responses: Record<string, { $ref?: string; content?: { 'application/json'?: { schema: unknown } } }>;
}

interface Description {
  paths: Record<string, Record<string, Operation>>;
  components: { parameters: Record<string, Parameter>; responses: Record<string, { content?: { 'application/json'?: { schema: unknown } } }> };
}

export interface MatchedOperation {
  operationId: string;
  pathParams: Record<string, string>;
  /** The operation's page in GitHub's REST documentation, as GitHub's error answers link it. */
  documentationUrl: string | undefined;
  /** Whether the description lists this status among the operation's responses. */
  documents(status: number): boolean;
  /** Problems with the request's parameters and JSON body; empty when it is valid. */
  validateRequest(body: unknown): string[];
  validateResponse(status: number, body: unknown): string[];
}

const escapePointer = (part: string) => part.replaceAll('~', '~0').replaceAll('/', '~1');

/**
 * OpenAPI 3.0's `nullable` as GitHub means it, which Ajv reads otherwise: beside `oneOf` or `anyOf` and no `type` (the
 * issue endpoints' `title`, `milestone`) it lets the value be null as well, which Ajv refuses to compile, so null becomes
 * a branch of its own; beside an `enum` (an issue's `state_reason`) it allows null too, which Ajv wants the enum to
 * list. Examples are data, left as they are.
 */
function nullableForAjv(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(nullableForAjv);
  if (!value || typeof value !== 'object') return value;
  const schema = Object.fromEntries(Object.entries(value).map(([key, child]) => [key, key === 'example' || key === 'examples' ? child : nullableForAjv(child)]));
  if (schema.nullable !== true) return schema;
  if (!('type' in schema)) return { anyOf: [Object.fromEntries(Object.entries(schema).filter(([key]) => key !== 'nullable')), { type: 'null' }] };
  if (Array.isArray(schema.enum) && !schema.enum.includes(null)) return { ...schema, enum: [...schema.enum, null] };
  return schema;
}

export class OpenApiValidator {
  private readonly description: Description;
  private readonly ajv: Ajv;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor() {
    this.description = nullableForAjv(JSON.parse(readFileSync(SUBSET, 'utf8'))) as Description;
    // OpenAPI 3.0 schemas: `nullable` is understood, `example` and `x-*` are annotations.
    this.ajv = new Ajv({ strict: false, allErrors: true });
    addFormats.default(this.ajv);
    this.ajv.addSchema(this.description as object, DOCUMENT_ID);
  }

  /** Validates against the schema at a JSON pointer into the document, so its `#/components/...` references resolve. */
  private check(pointer: string, value: unknown, what: string): string[] {
    let validate = this.compiled.get(pointer);
    if (!validate) {
      validate = this.ajv.compile({ $ref: `${DOCUMENT_ID}#${pointer}` });
      this.compiled.set(pointer, validate);
    }
    if (validate(value)) return [];
    return (validate.errors ?? []).map((error) => `${what}${error.instancePath} ${error.message ?? 'is invalid'}`);
  }

  private parameter(parameter: Parameter | { $ref: string }): Parameter {
    return '$ref' in parameter ? this.description.components.parameters[parameter.$ref.split('/').at(-1)!]! : parameter;
  }

  match(method: string, url: URL): MatchedOperation | undefined {
    const verb = method.toLowerCase();
    for (const [template, operations] of Object.entries(this.description.paths)) {
      const names: string[] = [];
      const pattern = new RegExp(`^${template.replace(/\{([^}]+)\}/g, (_, name: string) => (names.push(name), '([^/]+)'))}$`);
      const found = pattern.exec(url.pathname);
      const operation = operations[verb];
      if (!found || !operation) continue;
      const pathParams = Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(found[i + 1]!)]));
      const pointer = (...parts: string[]) => ['', 'paths', escapePointer(template), verb, ...parts].join('/');
      return {
        operationId: operation.operationId,
        pathParams,
        documentationUrl: operation.externalDocs?.url,
        documents: (status) => String(status) in operation.responses,
        validateRequest: (body) => [...this.parameterErrors(operation, url, pathParams), ...this.bodyErrors(operation, pointer, body)],
        validateResponse: (status, body) => this.responseErrors(operation, pointer, status, body),
      };
    }
    return undefined;
  }

  private parameterErrors(operation: Operation, url: URL, pathParams: Record<string, string>): string[] {
    const errors: string[] = [];
    const declared = (operation.parameters ?? []).map((parameter) => this.parameter(parameter));
    for (const name of url.searchParams.keys()) {
      if (!declared.some((parameter) => parameter.in === 'query' && parameter.name === name)) errors.push(`query parameter ${name} is not declared`);
    }
    for (const parameter of declared) {
      const raw = parameter.in === 'path' ? pathParams[parameter.name] : parameter.in === 'query' ? (url.searchParams.get(parameter.name) ?? undefined) : undefined;
      if (raw === undefined) {
        if (parameter.required && parameter.in !== 'header') errors.push(`${parameter.in} parameter ${parameter.name} is required`);
        continue;
      }
      // Query and path values arrive as text; the schema describes the value they encode.
      const value = parameter.schema.type === 'integer' ? Number(raw) : raw;
      const validate = this.ajv.compile(parameter.schema);
      if (!validate(value)) errors.push(`${parameter.in} parameter ${parameter.name}=${raw} ${validate.errors?.[0]?.message ?? 'is invalid'}`);
    }
    return errors;
  }

  private bodyErrors(operation: Operation, pointer: (...parts: string[]) => string, body: unknown): string[] {
    if (!operation.requestBody) return body === undefined ? [] : ['a body was sent to an operation that takes none'];
    if (body === undefined) return operation.requestBody.required ? ['the request body is required'] : [];
    return this.check(pointer('requestBody', 'content', 'application~1json', 'schema'), body, 'request body');
  }

  private responseErrors(operation: Operation, pointer: (...parts: string[]) => string, status: number, body: unknown): string[] {
    const declared = operation.responses[String(status)];
    if (!declared) return [`status ${status} is not a documented response of ${operation.operationId}`];
    if (declared.$ref) {
      const name = declared.$ref.split('/').at(-1)!;
      const schema = this.description.components.responses[name]?.content?.['application/json']?.schema;
      return schema === undefined ? [] : this.check(`/components/responses/${escapePointer(name)}/content/application~1json/schema`, body, `${status} response`);
    }
    if (declared.content?.['application/json']?.schema === undefined) return [];
    return this.check(pointer('responses', String(status), 'content', 'application~1json', 'schema'), body, `${status} response`);
  }
}
