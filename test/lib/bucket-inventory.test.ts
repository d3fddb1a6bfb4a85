/** The inventory of managed buckets doctor and `verify --all` start from. */
import {GetBucketTaggingCommand, ListBucketsCommand, S3Client} from '@aws-sdk/client-s3'
import {mockClient} from 'aws-sdk-client-mock'
import {beforeEach, describe, expect, it} from 'vitest'

import {listManagedBuckets} from '../../src/lib/buckets/inventory.js'
import {accountId, s3Error, sharedBucket, testContext} from './fixtures.js'

const s3Mock = mockClient(S3Client)
const kept = `metis-af-0a1b2c3d4e5f-${accountId}`
const goneMeanwhile = `metis-af-0a1b2c3d4e60-${accountId}`

beforeEach(() => {
  s3Mock.reset()
})

describe('listManagedBuckets', () => {
  it('leaves out a bucket deleted between the listing and the read of its tags, instead of failing', async () => {
    s3Mock.on(ListBucketsCommand).resolves({Buckets: [{Name: kept}, {Name: goneMeanwhile}]})
    s3Mock.on(GetBucketTaggingCommand, {Bucket: kept}).resolves({
      TagSet: [
        {Key: 'auditforge:managed-by', Value: 'auditforge'},
        {Key: 'auditforge:index', Value: sharedBucket},
      ],
    })
    s3Mock.on(GetBucketTaggingCommand, {Bucket: goneMeanwhile}).rejects(s3Error('NoSuchBucket', 404))
    const inventory = await listManagedBuckets(testContext())
    expect([...inventory.names]).toEqual([kept])
    expect([...inventory.managed]).toEqual([[kept, sharedBucket]])
  })

  it('still fails on any other error reading tags (AccessDenied)', async () => {
    s3Mock.on(ListBucketsCommand).resolves({Buckets: [{Name: kept}]})
    s3Mock.on(GetBucketTaggingCommand).rejects(s3Error('AccessDenied', 403))
    await expect(listManagedBuckets(testContext())).rejects.toThrow(/tags/)
  })
})
