/**
 * CloudTrail data events for a per-engagement bucket: an advanced event selector, on a trail
 * the operator names, for every object-level event (reads and writes) under the bucket. The
 * trail's other selectors are kept; a trail still on basic event selectors is moved to the
 * equivalent advanced ones when that is exact (management events only), and otherwise left
 * alone with an error saying why.
 */
import type {TrailSelectorOutcome} from '../../results/bucket.js'
import {
  type AdvancedEventSelector,
  type AdvancedFieldSelector,
  type CloudTrailClient,
  type EventSelector,
  GetEventSelectorsCommand,
  PutEventSelectorsCommand,
} from '@aws-sdk/client-cloudtrail'

import {type AwsContext, createCloudTrailClient} from '../aws.js'
import {AuditforgeError, ExitCode, attempt, describeAwsError} from '../errors.js'
import type {ControlTarget} from './controls.js'

export interface TrailSelectors {
  advanced: AdvancedEventSelector[]
  basic: EventSelector[]
}

/** The name of auditforge's selector for one bucket. */
export const selectorName = (bucket: string): string => `auditforge ${bucket}`

/** The object-ARN prefix every event of the bucket's objects starts with. */
const objectPrefix = (target: ControlTarget): string => `arn:${target.partition}:s3:::${target.bucket}/`

/** auditforge's selector: data events of S3 objects under the bucket, reads and writes. */
export function dataEventsSelector(target: ControlTarget): AdvancedEventSelector {
  return {
    Name: selectorName(target.bucket),
    FieldSelectors: [
      {Field: 'eventCategory', Equals: ['Data']},
      {Field: 'resources.type', Equals: ['AWS::S3::Object']},
      {Field: 'resources.ARN', StartsWith: [objectPrefix(target)]},
    ],
  }
}

/** Runs `use` with a CloudTrail client of this run, destroyed afterwards. */
async function withTrail<T>(target: ControlTarget, use: (client: CloudTrailClient) => Promise<T>): Promise<T> {
  const client = await target.cloudTrail()
  try {
    return await use(client)
  } finally {
    client.destroy()
  }
}

/** The trail's event selectors, both kinds. Read once per target. */
export function readTrailSelectors(target: ControlTarget): Promise<TrailSelectors> {
  const trail = target.controls.cloudtrailTrail!
  return target.once('trail', () =>
    withTrail(target, async (client) => {
      const reply = await attempt({action: `Reading the event selectors of the trail ${trail}`}, () =>
        client.send(new GetEventSelectorsCommand({TrailName: trail})),
      )
      return {advanced: reply?.AdvancedEventSelectors ?? [], basic: reply?.EventSelectors ?? []}
    }),
  )
}

/** The operators a field selector can carry besides its name. */
const operators = ['Equals', 'StartsWith', 'EndsWith', 'NotEquals', 'NotStartsWith', 'NotEndsWith'] as const

/** Whether a field selector uses exactly this one operator. */
function onlyOperator(field: AdvancedFieldSelector, operator: (typeof operators)[number]): boolean {
  return operators.every((name) =>
    name === operator ? (field[name] ?? []).length > 0 : (field[name] ?? []).length === 0,
  )
}

/**
 * Whether the trail logs every object-level event of the bucket: an advanced selector with no
 * field but the category (Data), the resource type (S3 objects) and, if any, a resource ARN that
 * only starts with a prefix of the bucket's objects (or of all of S3's); one that excludes or
 * narrows anything (NotStartsWith, EndsWith, readOnly, eventName, userIdentity.arn, ...) does not
 * count. Or a basic selector with such a data resource for all read/write types.
 */
export function coversBucket(selectors: TrailSelectors, target: ControlTarget): boolean {
  const prefix = objectPrefix(target)
  const bucketArn = `arn:${target.partition}:s3:::${target.bucket}`
  const everyS3Object = [`arn:${target.partition}:s3`, `arn:${target.partition}:s3:::`]
  const advanced = selectors.advanced.some((selector) => {
    const fields = selector.FieldSelectors ?? []
    const named = new Map(fields.map((field) => [field.Field, field]))
    if (
      named.size !== fields.length ||
      fields.some((field) => !['eventCategory', 'resources.type', 'resources.ARN'].includes(field.Field ?? ''))
    )
      return false
    const category = named.get('eventCategory')
    const type = named.get('resources.type')
    const arn = named.get('resources.ARN')
    return (
      category !== undefined &&
      onlyOperator(category, 'Equals') &&
      category.Equals!.includes('Data') &&
      type !== undefined &&
      onlyOperator(type, 'Equals') &&
      type.Equals!.includes('AWS::S3::Object') &&
      // No ARN condition: every object of every bucket; otherwise a prefix of this bucket's objects.
      (arn === undefined ||
        (onlyOperator(arn, 'StartsWith') && arn.StartsWith!.some((start) => prefix.startsWith(start))))
    )
  })
  const basic = selectors.basic.some(
    (selector) =>
      (selector.ReadWriteType ?? 'All') === 'All' &&
      (selector.DataResources ?? []).some(
        (resource) =>
          resource.Type === 'AWS::S3::Object' &&
          (resource.Values ?? []).some(
            (value) => value === prefix || value === bucketArn || everyS3Object.includes(value),
          ),
      ),
  )
  return advanced || basic
}

/**
 * Basic selectors as the equivalent advanced ones, when they only choose management events; a
 * basic selector with data resources has no exact rewrite auditforge would want to guess at.
 */
function asAdvanced(basic: EventSelector[], trail: string): AdvancedEventSelector[] {
  if (basic.some((selector) => (selector.DataResources ?? []).length > 0)) {
    throw new AuditforgeError(
      `The trail ${trail} uses basic event selectors with data resources; auditforge adds advanced event selectors only, and does not rewrite those; nothing was changed`,
      {
        code: 'trail_basic_selectors',
        exit: ExitCode.failed,
        suggestion:
          'Switch the trail to advanced event selectors (CloudTrail console: "Switch to advanced event selectors"), then run the command again.',
      },
    )
  }
  return basic
    .filter((selector) => selector.IncludeManagementEvents !== false)
    .map((selector) => ({
      Name: 'Management events',
      FieldSelectors: [
        {Field: 'eventCategory', Equals: ['Management']},
        ...(selector.ReadWriteType === 'ReadOnly' ? [{Field: 'readOnly', Equals: ['true']}] : []),
        ...(selector.ReadWriteType === 'WriteOnly' ? [{Field: 'readOnly', Equals: ['false']}] : []),
        ...((selector.ExcludeManagementEventSources ?? []).length > 0
          ? [{Field: 'eventSource', NotEquals: selector.ExcludeManagementEventSources}]
          : []),
      ],
    }))
}

/** What became of a retired bucket's selector: taken off, not there, or left as the trail's only selector; or why that failed. */
export type {TrailSelectorOutcome} from '../../results/bucket.js'

/**
 * Takes auditforge's selector for a bucket that is gone off the trail (a trail holds at most 500
 * conditions across its selectors, so each retired bucket's must go), keeping every other
 * selector. One that is the trail's only selector is left: a trail with none would log
 * management events it did not log before, and one selector cannot accumulate.
 */
export async function removeTrailSelector(
  client: CloudTrailClient,
  trail: string,
  bucket: string,
): Promise<'removed' | 'absent' | 'only'> {
  const reply = await attempt({action: `Reading the event selectors of the trail ${trail}`}, () =>
    client.send(new GetEventSelectorsCommand({TrailName: trail})),
  )
  const advanced = reply?.AdvancedEventSelectors ?? []
  const others = advanced.filter((selector) => selector.Name !== selectorName(bucket))
  if (others.length === advanced.length) return 'absent'
  if (others.length === 0) return 'only'
  await attempt({action: `Removing the data events of ${bucket} from the trail ${trail}`}, () =>
    client.send(new PutEventSelectorsCommand({TrailName: trail, AdvancedEventSelectors: others})),
  )
  return 'removed'
}

/** With a trail configured (--cloudtrail-trail), takes a retired bucket's selector off it; never throws. */
export async function takeOffTrail(context: AwsContext, bucket: string): Promise<TrailSelectorOutcome | undefined> {
  const trail = context.settings.controls.cloudtrailTrail
  if (trail === undefined) return undefined
  const client = await createCloudTrailClient(context.settings, context.credentials)
  try {
    return await removeTrailSelector(client, trail, bucket)
  } catch (error) {
    return {
      error: describeAwsError(error, {action: `Removing the data events of ${bucket} from the trail ${trail}`}).message,
    }
  } finally {
    client.destroy()
  }
}

/**
 * Puts auditforge's selector for the bucket on the trail, keeping every other advanced selector.
 * A trail with no selectors at all logs management events; it keeps doing so.
 */
export async function writeTrailSelectors(target: ControlTarget): Promise<void> {
  const trail = target.controls.cloudtrailTrail!
  const current = await readTrailSelectors(target)
  const others =
    current.advanced.length > 0
      ? current.advanced.filter((selector) => selector.Name !== selectorName(target.bucket))
      : current.basic.length > 0
        ? asAdvanced(current.basic, trail)
        : [{Name: 'Management events', FieldSelectors: [{Field: 'eventCategory', Equals: ['Management']}]}]
  await withTrail(target, (client) =>
    attempt({action: `Adding the bucket's data events to the trail ${trail}`}, () =>
      client.send(
        new PutEventSelectorsCommand({
          TrailName: trail,
          AdvancedEventSelectors: [...others, dataEventsSelector(target)],
        }),
      ),
    ),
  )
}
