/**
 * The engagement index as a document: parsing `auditforge/engagements.json`, recognising how
 * its records sit in it, and writing it back. The platform application (Python) reads and
 * writes the same file, with integers beyond 2^53, floats such as `1.0` and fields this tool
 * has never heard of. JSON.parse would round those (`12345678901234567891` becomes
 * `12345678901234567000`, `1.0` becomes `1`) and the next rewrite would store the rounded
 * value, so every number is kept as the exact text it was written with (lossless-json's
 * LosslessNumber) and written back as that text.
 */
import {LosslessNumber, isLosslessNumber, parse, stringify} from 'lossless-json'

import {AuditforgeError, ExitCode} from './errors.js'
import {indexKey, isEngagementId} from './layout.js'

/**
 * One engagement as stored in the index (snake_case). The known fields are plain strings (a
 * record where they are not is refused as corrupt); unknown fields are kept as parsed, numbers
 * as LosslessNumber, so that they are written back exactly.
 */
export interface EngagementRecord {
  engagement_id: string
  name: string
  client_id: string
  /** Optional; the platform may store `null` for "none". */
  firm_id?: string | null
  created_at: string
  /** `""` means the shared platform bucket. */
  source_bucket: string
  findings_key: string
  audit_log_key: string
  [field: string]: unknown
}

/**
 * How the records sit in the document, so that a rewrite puts them back the same way. For the
 * map shapes, `idInEntry` tells for each stored entry whether it repeats its key as
 * `engagement_id`, so a rewrite neither adds nor drops that field.
 */
export type IndexShape =
  | {kind: 'array'}
  | {kind: 'wrapped'; document: Record<string, unknown>; nested: 'array'}
  | {kind: 'wrapped'; document: Record<string, unknown>; nested: 'map'; idInEntry: ReadonlyMap<string, boolean>}
  | {kind: 'map'; idInEntry: ReadonlyMap<string, boolean>}

/** The fields auditforge reads; each must be a string when present. */
const knownFields = [
  'engagement_id',
  'name',
  'client_id',
  'firm_id',
  'created_at',
  'source_bucket',
  'findings_key',
  'audit_log_key',
] as const

/** The error for an index that cannot be read or rewritten without losing something. */
export function corruptIndex(bucket: string, reason: string): AuditforgeError {
  return new AuditforgeError(
    `The engagement index s3://${bucket}/${indexKey} is corrupt: ${reason}; it was left untouched`,
    {
      code: 'index_corrupt',
      exit: ExitCode.failed,
      suggestion: 'Restore a good version of the file (the bucket is versioned) before changing engagements.',
    },
  )
}

/**
 * Parses the index document and recognises its shape: a top-level array of records,
 * `{"engagements": [records], ...}`, `{"engagements": {id: record}, ...}`, or a top-level
 * `{id: record}` map. Anything else, and anything that could not be written back as it is
 * (a repeated key, an id twice, a map key that disagrees with its record's `engagement_id`, a
 * known field that is not a string), is index_corrupt.
 */
export function parseIndex(text: string, bucket: string): {records: EngagementRecord[]; shape: IndexShape} {
  const document = parseDocument(text, bucket)
  if (Array.isArray(document)) {
    return {
      records: uniqueIds(
        document.map((value, i) => asRecord(value, bucket, `entry ${i}`)),
        bucket,
      ),
      shape: {kind: 'array'},
    }
  }
  if (!isObject(document)) throw corruptIndex(bucket, 'the top level is neither an object nor an array')
  const nested = document.engagements
  if (Array.isArray(nested)) {
    const records = uniqueIds(
      nested.map((value, i) => asRecord(value, bucket, `engagements[${i}]`)),
      bucket,
    )
    return {records, shape: {kind: 'wrapped', document, nested: 'array'}}
  }
  if (isObject(nested)) {
    const {records, idInEntry} = fromMap(nested, bucket)
    return {records, shape: {kind: 'wrapped', document, nested: 'map', idInEntry}}
  }
  if (nested !== undefined) throw corruptIndex(bucket, '"engagements" is neither a list nor an object')
  const keys = Object.keys(document)
  if (keys.length > 0 && keys.every((key) => isEngagementId(key))) {
    const {records, idInEntry} = fromMap(document, bucket)
    return {records, shape: {kind: 'map', idInEntry}}
  }
  if (keys.length === 0) return {records: [], shape: {kind: 'wrapped', document, nested: 'array'}}
  throw corruptIndex(bucket, 'it has no "engagements" list')
}

/**
 * The document text for these records in this shape: two-space indented, numbers exactly as
 * they were read, fields in the order they were read, and a final newline.
 */
export function serializeIndex(records: EngagementRecord[], shape: IndexShape): string {
  let document: unknown
  if (shape.kind === 'array') document = records
  else if (shape.kind === 'map') document = toMap(records, shape.idInEntry)
  else document = {...shape.document, engagements: shape.nested === 'array' ? records : toMap(records, shape.idInEntry)}
  return `${stringifyJson(document, 2)}\n`
}

/**
 * A deep copy of records that keeps LosslessNumbers (structuredClone would turn them into
 * plain `{value, isLosslessNumber}` objects, which are then written as objects).
 */
export function cloneRecords(records: EngagementRecord[]): EngagementRecord[] {
  return records.map((record) => cloneValue(record) as EngagementRecord)
}

/**
 * JSON text of a value that may hold index values: LosslessNumbers are written as their exact
 * digits (JSON.stringify would write `{"value": ..., "isLosslessNumber": true}`), bigints as
 * digits. Without `indent`, compact.
 */
export function stringifyJson(value: unknown, indent?: number): string {
  return stringify(value, null, indent) ?? 'null'
}

function parseDocument(text: string, bucket: string): unknown {
  let document: unknown
  try {
    // lossless-json calls onDuplicateKey only when the repeated key holds a different value.
    document = parse(text, null, {
      onDuplicateKey: ({key}) => {
        throw corruptIndex(bucket, `the key ${JSON.stringify(key)} appears twice in one object`)
      },
    })
  } catch (error) {
    if (error instanceof AuditforgeError) throw error
    throw corruptIndex(bucket, `it is not JSON (${(error as Error).message})`)
  }
  // A key repeated with the same value parses silently; writing the document back would still
  // drop one of them, and in a map it is an id held twice.
  const repeated = firstRepeatedKey(text)
  if (repeated !== undefined)
    throw corruptIndex(bucket, `the key ${JSON.stringify(repeated)} appears twice in one object`)
  return document
}

/**
 * The first key that occurs twice within one object anywhere in `text`, which must be valid
 * JSON. Keys are compared decoded, so `"a"` and `"\u0061"` are the same key.
 */
function firstRepeatedKey(text: string): string | undefined {
  // One entry per open container: the keys seen so far for an object, undefined for an array.
  const open: (Set<string> | undefined)[] = []
  let expectingKey = false
  for (let i = 0; i < text.length; i++) {
    const char = text[i]
    if (char === '"') {
      let end = i + 1
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1
      const keys = open.at(-1)
      if (expectingKey && keys) {
        const key = JSON.parse(text.slice(i, end + 1)) as string
        if (keys.has(key)) return key
        keys.add(key)
      }
      expectingKey = false
      i = end
    } else if (char === '{') {
      open.push(new Set())
      expectingKey = true
    } else if (char === '[') {
      open.push(undefined)
    } else if (char === '}' || char === ']') {
      open.pop()
    } else if (char === ',') {
      expectingKey = open.at(-1) !== undefined
    }
  }
  return undefined
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !isLosslessNumber(value)
}

function asRecord(value: unknown, bucket: string, where: string): EngagementRecord {
  if (!isObject(value)) throw corruptIndex(bucket, `${where} is not an object`)
  if (typeof value.engagement_id !== 'string') throw corruptIndex(bucket, `${where} has no engagement_id`)
  checkKnownFields(value, bucket, `engagement ${JSON.stringify(value.engagement_id)}`)
  return value as EngagementRecord
}

/** Known fields must be strings: the rest of the code compares, concatenates and prints them. */
function checkKnownFields(record: Record<string, unknown>, bucket: string, where: string): void {
  for (const field of knownFields) {
    const value = record[field]
    if (value === undefined || typeof value === 'string') continue
    if (field === 'firm_id' && value === null) continue
    throw corruptIndex(bucket, `${where} has a ${field} that is not a string (${stringifyJson(value)})`)
  }
}

function uniqueIds(records: EngagementRecord[], bucket: string): EngagementRecord[] {
  const seen = new Set<string>()
  for (const record of records) {
    if (seen.has(record.engagement_id))
      throw corruptIndex(bucket, `engagement ${JSON.stringify(record.engagement_id)} appears twice`)
    seen.add(record.engagement_id)
  }
  return records
}

/**
 * Records of a map keyed by id. An entry whose own engagement_id names another engagement is
 * refused: taking either as the id would drop or duplicate a record on the next rewrite.
 */
function fromMap(
  map: Record<string, unknown>,
  bucket: string,
): {records: EngagementRecord[]; idInEntry: Map<string, boolean>} {
  const idInEntry = new Map<string, boolean>()
  const records = Object.entries(map).map(([id, value]) => {
    const where = `entry ${JSON.stringify(id)}`
    if (!isObject(value)) throw corruptIndex(bucket, `${where} is not an object`)
    const inner = value.engagement_id
    if (inner !== undefined && typeof inner !== 'string')
      throw corruptIndex(bucket, `${where} has an engagement_id that is not a string`)
    if (inner !== undefined && inner !== id)
      throw corruptIndex(bucket, `${where} holds engagement_id ${JSON.stringify(inner)}`)
    idInEntry.set(id, inner !== undefined)
    checkKnownFields(value, bucket, where)
    // An entry that names itself keeps its fields in their stored order.
    return (inner === undefined ? {engagement_id: id, ...value} : value) as EngagementRecord
  })
  return {records, idInEntry}
}

/**
 * The map form of records. A stored entry keeps engagement_id inside exactly when it had it;
 * a new entry gets it unless some stored entry does without it (then the platform keys its
 * map by id alone, and a rewrite should not start adding the field).
 */
function toMap(records: EngagementRecord[], idInEntry: ReadonlyMap<string, boolean>): Record<string, unknown> {
  const newEntriesCarryId = ![...idInEntry.values()].includes(false)
  const map: Record<string, unknown> = {}
  for (const record of records) {
    const {engagement_id: id, ...entry} = record
    const carriesId = idInEntry.get(id) ?? newEntriesCarryId
    // defineProperty, not assignment: an id of "__proto__" must stay an ordinary key.
    Object.defineProperty(map, id, {
      value: carriesId ? record : entry,
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  return map
}

function cloneValue(value: unknown): unknown {
  if (isLosslessNumber(value)) return new LosslessNumber(value.toString())
  if (Array.isArray(value)) return value.map(cloneValue)
  // Object.fromEntries defines own properties, so a "__proto__" field stays a field.
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, cloneValue(field)]))
  return value
}
