/**
 * Reading one bucket setting (policy, lifecycle, encryption, Object Lock, …) where S3 answers
 * "not configured" with an error: those codes are an absent value, anything else an error that
 * names the action and the bucket.
 */
import {awsErrorCode, describeAwsError} from '../errors.js'

/** The setting, or undefined when S3 answers with one of `absentCodes`. */
export async function readBucketSetting<T>(
  bucket: string,
  action: string,
  absentCodes: string[],
  call: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await call()
  } catch (error) {
    if (absentCodes.includes(awsErrorCode(error) ?? '')) return undefined
    throw describeAwsError(error, {action, bucket})
  }
}
