// Pure: container image references as a record pins them. Only a digest names the same bytes on every host;
// a tag is a pointer its owner can move, so a record that names one could rerun in another environment.

const NAME_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN = '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)';
const NAME = `(?:${DOMAIN})?${NAME_COMPONENT}(?:/${NAME_COMPONENT})*`;
const TAG = '[\\w][\\w.-]{0,127}';

/** `name[:tag]`, as `record --image` takes it (a digest may be given too). */
export const IMAGE_NAME_PATTERN = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(sha256:[a-f0-9]{64}))?$`);

/** A reference pinned by digest, for editors (the record's JSON Schema); the loader words each failure itself. */
export const PINNED_IMAGE_PATTERN = `^${NAME}(?::${TAG})?@sha256:[a-f0-9]{64}$`;

export interface ImageReference {
  /** Repository, with its registry when named (`ghcr.io/acme/train`). */
  name: string;
  tag?: string;
  /** `sha256:…`, when pinned. */
  digest?: string;
}

export function parseImageReference(text: string): ImageReference | undefined {
  const match = IMAGE_NAME_PATTERN.exec(text);
  if (!match || text.length > 512) return undefined;
  const [, name, tag, digest] = match;
  return { name: name!, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** The reference a record writes: the repository and its digest (a tag would only mislead once the tag moves). */
export function pinnedReference(name: string, digest: string): string {
  return `${name}@${digest}`;
}

/** Why a reference is not a pinned one, for the record's schema; undefined when it is. */
export function unpinnedReason(text: string): string | undefined {
  const reference = parseImageReference(text);
  if (!reference) return 'must be an image reference like ghcr.io/acme/train@sha256:<64 hex digits>';
  if (!reference.digest) return `is not pinned by digest: a tag can move to other bytes. Write ${reference.name}@sha256:<digest>, or let \`repro-gate record --image ${text}\` resolve it`;
  return undefined;
}
