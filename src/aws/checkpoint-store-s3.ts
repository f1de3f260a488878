/**
 * `CheckpointStore` on S3 (SPEC §8.11, infra/checkpoints.tf): a bucket with versioning and Object
 * Lock in compliance mode (default retention), SSE-KMS. Objects are written once with
 * `If-None-Match: *` (an existing key is answered 412 and left alone); the bucket's default
 * retention locks every version, so nobody — not the worker, not an administrator — can delete or
 * change a version before its retention ends. A delete without a version id only adds a delete
 * marker, and a second PUT of a key only adds a version: the verifier lists every version
 * (ListObjectVersions) and sees both.
 *
 * Location: `s3://BUCKET[/PREFIX]`; keys are PREFIX/registry/… and PREFIX/checkpoints/….
 */
import {
  GetObjectCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { awsClientConfig, type AwsOptions, type Env } from './config.js';
import { InputError, RemoteError } from '../errors.js';
import { MAX_STORED_DOCUMENT } from '../protocol/checkpoint.js';
import type { CheckpointStore, ObjectVersion } from '../audit/checkpoint-store.js';
import { awsCall, mapAwsError } from './errors.js';

/** S3 bucket naming rules (general purpose buckets): 3-63 of a-z 0-9 . -, starting and ending alphanumeric. */
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PREFIX_RE = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

export interface S3Location {
  bucket: string;
  /** '' or "a/b/" (with its trailing slash) */
  prefix: string;
}

/** Parses `s3://BUCKET[/PREFIX]` (BAD_CHECKPOINT_STORE otherwise). */
export function parseS3Location(url: string, what = 'the checkpoint store'): S3Location {
  const m = /^s3:\/\/([^/]+)(?:\/(.*?))?\/?$/.exec(url);
  if (!m || !BUCKET_RE.test(m[1]) || m[1].includes('..') || (m[2] && !PREFIX_RE.test(m[2]))) {
    throw new InputError('BAD_CHECKPOINT_STORE', `${what} "${url.slice(0, 100)}" is not s3://BUCKET[/PREFIX]`, {
      hint: 'e.g. s3://ima-quantum-audit-checkpoints-123456789012 (the checkpoint_bucket output of infra/)',
    });
  }
  return { bucket: m[1], prefix: m[2] ? `${m[2]}/` : '' };
}

async function bodyBytes(body: unknown, what: string): Promise<Uint8Array> {
  const b = body as { transformToByteArray?: () => Promise<Uint8Array> } | undefined;
  if (!b?.transformToByteArray) throw new RemoteError('AWS_ERROR', `${what}: S3 answered without a body`);
  const bytes = await b.transformToByteArray();
  if (bytes.length > MAX_STORED_DOCUMENT) throw new RemoteError('CHECKPOINT_OBJECT_TOO_LARGE', `${what}: ${bytes.length} bytes, more than a checkpoint store object holds (${MAX_STORED_DOCUMENT})`);
  return bytes;
}

export class S3CheckpointStore implements CheckpointStore {
  readonly label: string;

  constructor(
    private readonly client: S3Client,
    private readonly loc: S3Location,
  ) {
    this.label = `s3://${loc.bucket}/${loc.prefix}`;
  }

  async putOnce(key: string, body: Uint8Array): Promise<'created' | 'exists'> {
    const what = `writing ${this.label}${key}`;
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.loc.bucket, Key: this.loc.prefix + key, Body: body, ContentType: 'application/json', IfNoneMatch: '*' }));
      return 'created';
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      // 412: the key holds an object (written once, never replaced); 409: a concurrent conditional write
      if (status === 412 || status === 409 || (err as { name?: string }).name === 'PreconditionFailed') return 'exists';
      throw mapAwsError(err, what);
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const what = `reading ${this.label}${key}`;
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.loc.bucket, Key: this.loc.prefix + key }));
      return await bodyBytes(out.Body, what);
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'NoSuchKey' || name === 'NotFound') return undefined;
      throw mapAwsError(err, what);
    }
  }

  async keys(prefix: string): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await awsCall(`listing ${this.label}${prefix}`, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.loc.bucket, Prefix: this.loc.prefix + prefix, ...(token ? { ContinuationToken: token } : {}) })),
      );
      for (const o of page.Contents ?? []) if (o.Key) out.push(o.Key.slice(this.loc.prefix.length));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort();
  }

  async versions(prefix: string): Promise<ObjectVersion[]> {
    const out: ObjectVersion[] = [];
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    for (;;) {
      const page = await awsCall(`listing the versions of ${this.label}${prefix}`, () =>
        this.client.send(
          new ListObjectVersionsCommand({
            Bucket: this.loc.bucket,
            Prefix: this.loc.prefix + prefix,
            ...(keyMarker ? { KeyMarker: keyMarker } : {}),
            ...(versionMarker ? { VersionIdMarker: versionMarker } : {}),
          }),
        ),
      );
      for (const v of page.Versions ?? []) if (v.Key) out.push({ key: v.Key.slice(this.loc.prefix.length), version: v.VersionId ?? 'null', deleteMarker: false });
      for (const d of page.DeleteMarkers ?? []) if (d.Key) out.push({ key: d.Key.slice(this.loc.prefix.length), version: d.VersionId ?? 'null', deleteMarker: true });
      if (!page.IsTruncated) break;
      keyMarker = page.NextKeyMarker;
      versionMarker = page.NextVersionIdMarker;
    }
    return out.sort((a, b) => (a.key === b.key ? 0 : a.key < b.key ? -1 : 1));
  }

  async getVersion(v: ObjectVersion): Promise<Uint8Array> {
    const what = `reading ${this.label}${v.key} (version ${v.version})`;
    const out = await awsCall(what, () => this.client.send(new GetObjectCommand({ Bucket: this.loc.bucket, Key: this.loc.prefix + v.key, VersionId: v.version })));
    return bodyBytes(out.Body, what);
  }
}

/**
 * The store for `s3://…` with the usual AWS options (AWS_ENDPOINT_URL[_S3] for an emulator, which
 * is then addressed path-style: an emulator on 127.0.0.1 has no per-bucket host names).
 */
export function s3CheckpointStore(url: string, env: Env, opts: AwsOptions = {}): { store: S3CheckpointStore; close(): void } {
  const loc = parseS3Location(url);
  const cfg = awsClientConfig('S3', opts, env);
  const client = new S3Client({ ...cfg, ...(cfg.endpoint ? { forcePathStyle: true } : {}) });
  return { store: new S3CheckpointStore(client, loc), close: () => client.destroy() };
}
