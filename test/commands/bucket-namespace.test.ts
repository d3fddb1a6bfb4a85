/**
 * Squat-proof names on moto: with the account-regional namespace, new buckets are
 * `<prefix><id>-<account>-<region>-an`, created with the namespace header (seen on the wire by a
 * recording proxy in front of moto, which checks the name against it), and every command that recognises a per-engagement bucket (verify,
 * doctor, decommission, delete, migrate) takes that form as well as the global one.
 */
import http from 'node:http'
import type {AddressInfo} from 'node:net'

import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {runCli, runJson} from '../helpers/cli.js'
import {
  bucketExists,
  putIndex,
  putRaw,
  randomEngagementId,
  readIndex,
  recordsOf,
  seedRecord,
} from '../helpers/commands.js'
import {createSharedBucket, motoAccountId, testS3} from '../helpers/s3.js'

const regionalName = (id: string) => `metis-af-${id.slice('eng-'.length)}-${motoAccountId}-us-east-1-an`

interface Seen {
  method: string
  path: string
  headers: http.IncomingHttpHeaders
}

/** A pass-through proxy in front of moto that remembers every request's method, path and headers. */
async function recordingProxy(upstream: string): Promise<{endpoint: string; seen: Seen[]; close: () => Promise<void>}> {
  const target = new URL(upstream)
  const seen: Seen[] = []
  const server = http.createServer((request, response) => {
    seen.push({method: request.method ?? '', path: request.url ?? '', headers: request.headers})
    const forward = http.request(
      {
        hostname: target.hostname,
        port: target.port,
        method: request.method,
        path: request.url,
        headers: request.headers,
      },
      (reply) => {
        response.writeHead(reply.statusCode ?? 502, reply.headers)
        reply.pipe(response)
      },
    )
    forward.on('error', () => response.destroy())
    request.pipe(forward)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}

let proxy: Awaited<ReturnType<typeof recordingProxy>>
beforeAll(async () => {
  proxy = await recordingProxy(inject('motoEndpoint'))
})
afterAll(async () => {
  await proxy?.close()
})

/**
 * The namespace header of the CreateBucket request (a PUT of the bucket itself, no query) that
 * created `bucket`, as it reached moto; that request never carries an expected owner.
 */
function namespaceHeaderOf(bucket: string): string | string[] | undefined {
  const create = proxy.seen.find(
    (request) => request.method === 'PUT' && (request.path === `/${bucket}` || request.path === `/${bucket}/`),
  )
  expect(create, `no CreateBucket of ${bucket} went through the proxy`).toBeDefined()
  expect(create!.headers['x-amz-expected-bucket-owner']).toBeUndefined()
  return create!.headers['x-amz-bucket-namespace']
}

describe('the account-regional namespace', () => {
  it('engagement create --isolated makes an -an bucket with the namespace header; verify, doctor and engagement delete recognise it', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const env = {AUDITFORGE_BUCKET: shared}
    const created = await runJson<{engagement_id: string; source_bucket: string}>(
      ['engagement', 'create', '--name', 'Squat-proof', '--isolated', '--namespace', 'account-regional'],
      {
        env: {...env, AWS_ENDPOINT_URL: proxy.endpoint},
      },
    )
    expect(created.code, created.stderr).toBe(0)
    const {engagement_id: id, source_bucket: bucket} = created.json
    expect(bucket).toBe(regionalName(id))
    expect(await bucketExists(s3, bucket)).toBe(true)
    expect(namespaceHeaderOf(bucket)).toBe('account-regional')

    const verified = await runJson<{ok: boolean; buckets: {controls: {control: string; status: string}[]}[]}>(
      ['bucket', 'verify', bucket],
      {env},
    )
    expect(verified.code, verified.stderr).toBe(0)
    expect(verified.json.buckets[0].controls.filter((row) => row.status === 'fail')).toEqual([])
    const doctor = await runJson<{checks: {check: string; status: string; detail: string}[]}>(['doctor'], {env})
    expect(doctor.json.checks.find((check) => check.check === 'engagement buckets')?.status).not.toBe('fail')
    expect(doctor.json.checks.find((check) => check.check === 'bucket controls')).toMatchObject({status: 'pass'})

    const deleted = await runJson<{bucket: string}>(['engagement', 'delete', id, '--yes'], {env})
    expect(deleted.code, deleted.stderr).toBe(0)
    expect(deleted.json.bucket).toBe('decommissioned')
    expect(await bucketExists(s3, bucket)).toBe(false)
  })

  it('bucket provision names it by the environment, and bucket decommission takes the -an form', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const id = randomEngagementId()
    await putIndex(s3, shared, {engagements: [seedRecord(id)]})
    const provisioned = await runCli(['bucket', 'provision', id], {
      env: {
        AUDITFORGE_BUCKET: shared,
        AUDITFORGE_BUCKET_NAMESPACE: 'account-regional',
        AWS_ENDPOINT_URL: proxy.endpoint,
      },
    })
    expect(provisioned.code, provisioned.stderr).toBe(0)
    const bucket = regionalName(id)
    expect(provisioned.stdout).toBe(`${bucket}\n`)
    expect(namespaceHeaderOf(bucket)).toBe('account-regional')

    // The decommission runs without the namespace setting: the form alone is recognised.
    const decommissioned = await runCli(['bucket', 'decommission', bucket, '--yes', '--shared-bucket', shared])
    expect(decommissioned.code, decommissioned.stderr).toBe(0)
    expect(await bucketExists(s3, bucket)).toBe(false)
  })

  it('migrate --execute migrates into an -an bucket; a later delete with the global setting still finds the bucket left by a rollback', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const id = randomEngagementId()
    await putIndex(s3, shared, {engagements: [seedRecord(id)]})
    await putRaw(s3, shared, `auditforge/engagements/${id}/findings.json`, '{"findings": []}')
    const migrated = await runJson<{engagements: {status: string; target_bucket: string}[]}>(
      [
        'migrate',
        '--engagement-id',
        id,
        '--execute',
        '--yes',
        '--namespace',
        'account-regional',
        '--shared-bucket',
        shared,
      ],
      {env: {AWS_ENDPOINT_URL: proxy.endpoint}},
    )
    expect(migrated.code, migrated.stderr).toBe(0)
    expect(migrated.json.engagements[0]).toMatchObject({status: 'migrated', target_bucket: regionalName(id)})
    expect(recordsOf((await readIndex(s3, shared)).json)[0].source_bucket).toBe(regionalName(id))
    expect(namespaceHeaderOf(regionalName(id))).toBe('account-regional')

    const rolledBack = await runCli(['migrate', 'rollback', '--engagement-id', id, '--yes', '--shared-bucket', shared])
    expect(rolledBack.code, rolledBack.stderr).toBe(0)
    const deleted = await runJson<{bucket: string; bucket_name: string}>([
      'engagement',
      'delete',
      id,
      '--yes',
      '--shared-bucket',
      shared,
    ])
    expect(deleted.code, deleted.stderr).toBe(0)
    expect(deleted.json).toMatchObject({bucket: 'decommissioned', bucket_name: regionalName(id)})
    expect(await bucketExists(s3, regionalName(id))).toBe(false)
  })

  it('an unknown namespace is exit 2 before any call', async () => {
    const result = await runCli(['bucket', 'provision', randomEngagementId(), '--shared-bucket', 'any-bucket'], {
      env: {AUDITFORGE_BUCKET_NAMESPACE: 'regional'},
    })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('AUDITFORGE_BUCKET_NAMESPACE')
  })
})
