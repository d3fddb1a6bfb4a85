/**
 * Reading an object as a stream, for bodies too large to hold (audit-log shards on export).
 * Only reads opened here are timed as streams (cut by the idle timeout alone, never by the
 * per-attempt deadline, so a long export is not cut while bytes flow); every other GetObject
 * (the index, a shard read to append to it, findings) must complete within the deadline.
 */
import type {Readable} from 'node:stream'

import {GetObjectCommand, type GetObjectCommandInput, type S3Client} from '@aws-sdk/client-s3'

import {attempt} from '../errors.js'
import type {ObjectLocation} from './conditional.js'

const streamedInputs = new WeakSet<object>()

/** Whether a command's input was opened as a stream here (read by the client's timing middleware). */
export function isStreamedRead(input: unknown): boolean {
  return typeof input === 'object' && input !== null && streamedInputs.has(input)
}

/** The object's body as a stream; the caller reads it to the end or destroys it. */
export async function openObjectStream(s3: S3Client, location: ObjectLocation, action: string): Promise<Readable> {
  const input: GetObjectCommandInput = {Bucket: location.bucket, Key: location.key, ExpectedBucketOwner: location.expectedOwner}
  streamedInputs.add(input)
  return attempt({action, bucket: location.bucket, key: location.key}, async () => {
    const reply = await s3.send(new GetObjectCommand(input))
    return reply.Body as unknown as Readable
  })
}
