import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { sendJson } from './http.js';

// The Twirp JSON endpoints of the Actions results service that @actions/cache 6 and @actions/artifact 6
// call, and the blob storage their signed URLs point at (Azure block-blob PUTs, plain GETs). Requests
// are checked field by field against the services' protobuf messages (proto field names, as the clients send).

const CACHE_SERVICE = 'github.actions.results.api.v1.CacheService';
const ARTIFACT_SERVICE = 'github.actions.results.api.v1.ArtifactService';

const CacheMetadata = z.object({ repository_id: z.string().optional(), scope: z.array(z.unknown()).optional() }).strict().optional();
const Int64 = z.string().regex(/^\d+$/);

const REQUESTS = {
  [`${CACHE_SERVICE}/GetCacheEntryDownloadURL`]: z
    .object({ metadata: CacheMetadata, key: z.string().min(1), restore_keys: z.array(z.string()).optional(), version: z.string().min(1) })
    .strict(),
  [`${CACHE_SERVICE}/CreateCacheEntry`]: z.object({ metadata: CacheMetadata, key: z.string().min(1), version: z.string().min(1) }).strict(),
  [`${CACHE_SERVICE}/FinalizeCacheEntryUpload`]: z
    .object({ metadata: CacheMetadata, key: z.string().min(1), size_bytes: Int64, version: z.string().min(1) })
    .strict(),
  [`${ARTIFACT_SERVICE}/CreateArtifact`]: z
    .object({
      workflow_run_backend_id: z.string().min(1),
      workflow_job_run_backend_id: z.string().min(1),
      name: z.string().min(1),
      expires_at: z.iso.datetime().optional(),
      version: z.number().int().min(4),
      mime_type: z.string().optional(),
    })
    .strict(),
  [`${ARTIFACT_SERVICE}/FinalizeArtifact`]: z
    .object({
      workflow_run_backend_id: z.string().min(1),
      workflow_job_run_backend_id: z.string().min(1),
      name: z.string().min(1),
      size: Int64,
      hash: z.string().regex(/^sha256:[0-9a-f]{64}$/).optional(),
    })
    .strict(),
} as const;

type Method = keyof typeof REQUESTS;
type Request<M extends Method> = z.infer<(typeof REQUESTS)[M]>;

export interface CacheEntry {
  version: string;
  blob: string;
  finalized: boolean;
  sizeBytes?: number;
}

export interface UploadedArtifact {
  id: number;
  name: string;
  size: number;
  zip: Buffer;
  /** `sha256:<hex>` of the zip, as the REST API's `digest` reports it. */
  digest: string;
  /** Where blob storage keeps the zip, for a signed download URL. */
  blob: string;
}

const base64url = (value: string) => Buffer.from(value).toString('base64url');

export class ResultsServiceStandin {
  readonly caches = new Map<string, CacheEntry>();
  readonly artifacts: UploadedArtifact[] = [];
  /** Shaped like the runner's ACTIONS_RUNTIME_TOKEN: a JWT whose `scp` names the run and job backend ids. */
  readonly runtimeToken: string;
  private readonly runId = 'a1b2c3d4-0000-4000-8000-000000004242';
  private readonly jobId = 'e5f6a7b8-0000-4000-8000-000000000001';
  private readonly signingKey = randomBytes(32);
  private readonly blobs = new Map<string, Buffer>();
  /** The Content-Type each blob was uploaded with (`x-ms-blob-content-type`), which blob storage serves it with. */
  private readonly contentTypes = new Map<string, string>();
  private readonly stagedBlocks = new Map<string, Map<string, Buffer>>();
  private readonly pendingArtifacts = new Map<string, string>();
  private nextId = 1;

  constructor(
    private readonly options: {
      baseUrl: () => string;
      report: (problem: string) => void;
    },
  ) {
    const claims = { scp: `Actions.ExampleScope Actions.Results:${this.runId}:${this.jobId}`, iss: 'vstoken.actions.githubusercontent.com', exp: 4102444800 };
    this.runtimeToken = [base64url(JSON.stringify({ typ: 'JWT', alg: 'RS256' })), base64url(JSON.stringify(claims)), base64url('signature')].join('.');
  }

  handles(url: URL): boolean {
    return url.pathname.startsWith('/twirp/') || url.pathname.startsWith('/blob/');
  }

  handle(request: IncomingMessage, response: ServerResponse, url: URL, body: Buffer): number {
    return url.pathname.startsWith('/twirp/') ? this.twirp(request, response, url, body) : this.blob(request, response, url, body);
  }

  private signedUrl(container: string): string {
    const blob = `/blob/devstoreaccount1/${container}/${this.nextId++}`;
    return `${this.options.baseUrl()}${blob}?sv=2025-01-05&sp=rcw&sig=${encodeURIComponent(this.sign(blob))}`;
  }

  /** A read-only signed URL of a stored blob, as the cache service and the REST API's artifact download hand out. */
  signedReadUrl(blobPath: string): string {
    return `${this.options.baseUrl()}${blobPath}?sv=2025-01-05&sp=r&sig=${encodeURIComponent(this.sign(blobPath))}`;
  }

  private sign(blobPath: string): string {
    return createHmac('sha256', this.signingKey).update(blobPath).digest('base64');
  }

  private twirp(request: IncomingMessage, response: ServerResponse, url: URL, raw: Buffer): number {
    const method = url.pathname.slice('/twirp/'.length) as Method;
    const fail = (status: number, code: string, msg: string) => (sendJson(response, status, { code, msg }), status);
    if (request.headers.authorization !== `Bearer ${this.runtimeToken}`) return fail(401, 'unauthenticated', 'invalid runtime token');
    const schema = REQUESTS[method];
    if (!schema) {
      this.options.report(`twirp: unknown method ${method}`);
      return fail(404, 'bad_route', `no handler for ${method}`);
    }
    const parsed = schema.safeParse(JSON.parse(raw.toString('utf8') || '{}'));
    if (!parsed.success) {
      this.options.report(`twirp ${method}: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
      return fail(400, 'invalid_argument', parsed.error.message);
    }
    sendJson(response, 200, this.answer(method, parsed.data));
    return 200;
  }

  private answer(method: Method, request: Request<Method>): Record<string, unknown> {
    switch (method) {
      case `${CACHE_SERVICE}/GetCacheEntryDownloadURL`: {
        const { key, restore_keys = [], version } = request as Request<typeof method>;
        const usable = (candidate: string) => {
          const entry = this.caches.get(candidate);
          return entry?.finalized && entry.version === version ? entry : undefined;
        };
        const matched = usable(key) ? key : restore_keys.map((prefix) => [...this.caches.keys()].reverse().find((candidate) => candidate.startsWith(prefix) && usable(candidate))).find(Boolean);
        if (!matched) return { ok: false };
        return { ok: true, signed_download_url: this.signedReadUrl(this.caches.get(matched)!.blob), matched_key: matched };
      }
      case `${CACHE_SERVICE}/CreateCacheEntry`: {
        const { key, version } = request as Request<typeof method>;
        if (this.caches.get(key)?.finalized) return { ok: false, message: `cache entry ${key} already exists` };
        const signed = this.signedUrl('cache');
        this.caches.set(key, { version, blob: new URL(signed).pathname, finalized: false });
        return { ok: true, signed_upload_url: signed };
      }
      case `${CACHE_SERVICE}/FinalizeCacheEntryUpload`: {
        const { key, version, size_bytes } = request as Request<typeof method>;
        const entry = this.caches.get(key);
        const stored = entry && this.blobs.get(entry.blob);
        if (!entry || entry.version !== version || !stored) return { ok: false, message: `no upload for cache entry ${key}` };
        if (stored.length !== Number(size_bytes)) this.options.report(`cache ${key}: finalized with size ${size_bytes}, uploaded ${stored.length}`);
        Object.assign(entry, { finalized: true, sizeBytes: stored.length });
        return { ok: true, entry_id: String(this.nextId++) };
      }
      case `${ARTIFACT_SERVICE}/CreateArtifact`: {
        const { name } = request as Request<typeof method>;
        this.checkBackendIds(request as Request<typeof method>);
        const signed = this.signedUrl('artifacts');
        this.pendingArtifacts.set(name, new URL(signed).pathname);
        return { ok: true, signed_upload_url: signed };
      }
      case `${ARTIFACT_SERVICE}/FinalizeArtifact`: {
        const { name, size, hash } = request as Request<typeof method>;
        this.checkBackendIds(request as Request<typeof method>);
        const blob = this.pendingArtifacts.get(name) ?? '';
        const zip = this.blobs.get(blob);
        if (!zip) return { ok: false };
        if (zip.length !== Number(size)) this.options.report(`artifact ${name}: finalized with size ${size}, uploaded ${zip.length}`);
        const digest = `sha256:${createHash('sha256').update(zip).digest('hex')}`;
        if (hash && hash !== digest) this.options.report(`artifact ${name}: hash ${hash} does not match the upload`);
        const id = this.nextId++;
        this.artifacts.push({ id, name, size: zip.length, zip, digest, blob });
        return { ok: true, artifact_id: String(id) };
      }
    }
  }

  private checkBackendIds(request: { workflow_run_backend_id: string; workflow_job_run_backend_id: string }): void {
    if (request.workflow_run_backend_id !== this.runId || request.workflow_job_run_backend_id !== this.jobId) {
      this.options.report('artifact: backend ids do not match the runtime token');
    }
  }

  private blob(request: IncomingMessage, response: ServerResponse, url: URL, body: Buffer): number {
    const blobPath = url.pathname;
    const answer = (status: number, headers: Record<string, string | number> = {}, content?: Buffer) => {
      response.writeHead(status, { 'x-ms-request-id': randomBytes(8).toString('hex'), 'x-ms-version': '2025-01-05', ...headers });
      response.end(content);
      return status;
    };
    if (url.searchParams.get('sig') !== this.sign(blobPath)) return answer(403, { 'x-ms-error-code': 'AuthenticationFailed' });
    const committed = { etag: `"0x${randomBytes(8).toString('hex')}"`, 'last-modified': new Date().toUTCString() };
    if (request.method === 'PUT') {
      const contentType = request.headers['x-ms-blob-content-type'];
      if (typeof contentType === 'string' && url.searchParams.get('comp') !== 'block') this.contentTypes.set(blobPath, contentType);
      const comp = url.searchParams.get('comp');
      if (comp === 'block') {
        const blocks = this.stagedBlocks.get(blobPath) ?? new Map<string, Buffer>();
        blocks.set(url.searchParams.get('blockid') ?? '', body);
        this.stagedBlocks.set(blobPath, blocks);
        return answer(201, { 'x-ms-request-server-encrypted': 'true' });
      }
      if (comp === 'blocklist') {
        const blocks = this.stagedBlocks.get(blobPath) ?? new Map<string, Buffer>();
        const ids = [...body.toString('utf8').matchAll(/<(?:Latest|Uncommitted|Committed)>([^<]*)<\//g)].map((match) => match[1]!);
        const missing = ids.filter((id) => !blocks.has(id));
        if (missing.length > 0) return answer(400, { 'x-ms-error-code': 'InvalidBlockList' });
        this.blobs.set(blobPath, Buffer.concat(ids.map((id) => blocks.get(id)!)));
        this.stagedBlocks.delete(blobPath);
        return answer(201, committed);
      }
      if (request.headers['x-ms-blob-type'] !== 'BlockBlob') return answer(400, { 'x-ms-error-code': 'MissingRequiredHeader' });
      this.blobs.set(blobPath, body);
      return answer(201, committed);
    }
    const stored = this.blobs.get(blobPath);
    if (!stored) return answer(404, { 'x-ms-error-code': 'BlobNotFound' });
    const contentType = this.contentTypes.get(blobPath) ?? 'application/octet-stream';
    const headers = { 'content-length': stored.length, 'content-type': contentType, 'x-ms-blob-type': 'BlockBlob', ...committed };
    return request.method === 'HEAD' ? answer(200, headers) : answer(200, headers, stored);
  }
}
