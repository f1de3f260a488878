/**
 * The `CheckpointStore` port (SPEC §8.11): a write-once object store for chain registrations and
 * signed checkpoints, outside the audit table. Two implementations: an S3 bucket with versioning
 * and Object Lock in compliance mode (src/aws/checkpoint-store-s3.ts: a locked version cannot be
 * deleted or changed by anyone until its retention ends; an overwrite is a new version, which the
 * verifier sees), and a folder of write-once files for the local stack (checkpoint-store-file.ts:
 * link(2) never replaces; no protection against someone who may delete files, SPEC §8.11).
 */

/** One stored version of an object (S3: every version, delete markers too; files: the file). */
export interface ObjectVersion {
  key: string;
  version: string;
  /** S3: a delete marker (the object was deleted; object lock kept the versions under it) */
  deleteMarker: boolean;
}

export interface CheckpointStore {
  /** "s3://bucket/prefix" or the folder, for messages */
  readonly label: string;
  /** writes `body` at `key` unless an object is there: 'exists' then, and nothing is replaced */
  putOnce(key: string, body: Uint8Array): Promise<'created' | 'exists'>;
  /** the current object at `key` (undefined when there is none) */
  get(key: string): Promise<Uint8Array | undefined>;
  /** the current keys under `prefix`, ascending */
  keys(prefix: string): Promise<string[]>;
  /** every version of every key under `prefix` (what the verifier reads) */
  versions(prefix: string): Promise<ObjectVersion[]>;
  /** one version's bytes */
  getVersion(v: ObjectVersion): Promise<Uint8Array>;
}
