/** `migrate rollback`: point an engagement back at the shared bucket; no object is touched. */
import type {AwsContext} from '../aws.js'
import {EngagementIndex, type EngagementRecord} from '../engagement-index.js'
import {sameObject, listBothSides} from './verify.js'

export interface RollbackResult {
  engagement_id: string
  previous_source_bucket: string
  source_bucket: ''
  /** Objects in the engagement's bucket that the shared bucket lacks or holds older. */
  newer_in_bucket: string[]
}

/**
 * What a rollback would hide: keys in the engagement's own bucket (written since the
 * migration) that the shared bucket lacks or holds with other content.
 */
export async function rollbackRisk(context: AwsContext, sharedBucket: string, record: EngagementRecord): Promise<string[]> {
  const {source, target} = await listBothSides(context, sharedBucket, record)
  const inShared = new Map(source.map((object) => [object.key, object]))
  return target.filter((object) => !sameObject(object, inShared.get(object.key))).map((object) => object.key)
}

/** Points the engagement back at the shared bucket; touches no object. */
export async function rollbackMigration(context: AwsContext, sharedBucket: string, engagementId: string): Promise<EngagementRecord> {
  return new EngagementIndex(context.s3, sharedBucket).setSourceBucket(engagementId, '')
}

