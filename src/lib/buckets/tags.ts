/**
 * The tags auditforge puts on a per-engagement bucket, the operator's `--tag key=value`, and the
 * index binding those tags carry.
 */
import type {Tag} from '@aws-sdk/client-s3'

import {invalidInput, refused} from '../errors.js'

export const managedByTag: Tag = {Key: 'auditforge:managed-by', Value: 'auditforge'}
export const engagementIdTagKey = 'auditforge:engagement-id'
/**
 * Binds a bucket to the index that owns it: the name of the shared bucket whose
 * `auditforge/engagements.json` the bucket belongs to. Two environments (staging, production)
 * can share an account; the binding is what stops one environment's index from vouching for,
 * and decommissioning, the other's buckets.
 */
export const indexTagKey = 'auditforge:index'
const reservedTagPrefixes = ['aws:', 'auditforge:']

/** Parses `--tag key=value`; S3's tag limits and auditforge's own keys are checked here. */
export function parseTag(text: string): Tag {
  const separator = text.indexOf('=')
  if (separator <= 0) throw invalidInput(`Invalid tag ${JSON.stringify(text)}: expected key=value`)
  const key = text.slice(0, separator)
  const value = text.slice(separator + 1)
  if (key.length > 128 || value.length > 256)
    throw invalidInput(`Invalid tag ${JSON.stringify(text)}: key up to 128, value up to 256 characters`)
  if (!/^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u.test(key + value)) {
    throw invalidInput(`Invalid tag ${JSON.stringify(text)}: use letters, digits, spaces and _ . : / = + - @`)
  }
  if (reservedTagPrefixes.some((prefix) => key.toLowerCase().startsWith(prefix))) {
    throw invalidInput(
      `Invalid tag ${JSON.stringify(text)}: keys starting with ${reservedTagPrefixes.join(' or ')} are reserved`,
    )
  }
  return {Key: key, Value: value}
}

/** Parses every `--tag`; a key given twice, or more tags than S3 leaves room for, is exit 2. */
export function parseTags(texts: readonly string[] = []): Tag[] {
  const tags = texts.map((text) => parseTag(text))
  const keys = new Set(tags.map((tag) => tag.Key))
  if (keys.size !== tags.length) throw invalidInput('Each --tag key may be given only once')
  if (tags.length > 48) throw invalidInput('At most 48 --tag values (S3 allows 50 tags, auditforge uses 2)')
  return tags
}

/**
 * Refuses (exit 5) a bucket bound to an index other than `index`. An unbound bucket (provisioned
 * before buckets were bound) passes only where the caller has other proof that it belongs here.
 */
export function assertBoundTo(
  bucket: string,
  binding: string | undefined,
  index: string,
  options: {unboundOk: boolean; engagementId?: string},
): void {
  if (binding === index) return
  if (binding !== undefined) {
    throw refused(
      `${bucket} is bound to the engagement index in ${binding}, not to ${index}; it belongs to another environment and was left untouched`,
      `Run the command against that index (--shared-bucket ${binding}) if that is what you meant.`,
    )
  }
  if (!options.unboundOk) {
    throw refused(
      `${bucket} is not bound to any engagement index (no ${indexTagKey} tag), so nothing proves it belongs to ${index}; it was left untouched`,
      `If it belongs to this index, bind it first: \`auditforge bucket provision ${options.engagementId ?? '<engagement id>'} --shared-bucket ${index} --force\`.`,
    )
  }
}
