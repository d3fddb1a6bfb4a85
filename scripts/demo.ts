/**
 * The demo: the whole lifecycle of the real CLI against a local S3 server. Starts moto_server on
 * a free loopback port, creates the platform's shared bucket, then runs auditforge step by step,
 * printing each command and checking that it did what it says. Exits non-zero on the first step
 * that does not.
 */
import {spawnSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'

import {CreateBucketCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client} from '@aws-sdk/client-s3'

import {startMoto} from './moto.js'

const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const sharedBucket = 'demo-platform-shared'
const color = process.stdout.isTTY && !process.env.NO_COLOR
const bold = (text: string) => (color ? `\u001b[1m${text}\u001b[22m` : text)

class StepFailed extends Error {}

function auditforge(args: string[], env: NodeJS.ProcessEnv, expectExit = 0): string {
  console.log(`\n${bold(`$ auditforge ${args.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg}'`)).join(' ')}`)}`)
  const result = spawnSync(process.execPath, [bin, ...args], {env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit']})
  process.stdout.write(result.stdout)
  if (result.status !== expectExit) throw new StepFailed(`exited ${result.status}, expected ${expectExit}`)
  return result.stdout
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new StepFailed(what)
  console.log(`  ✔ ${what}`)
}

async function main(): Promise<void> {
  const moto = await startMoto()
  console.log(`Local S3 server (moto_server) on ${moto.endpoint}`)
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ACCESS_KEY_ID: 'demo',
    AWS_SECRET_ACCESS_KEY: 'demo',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: moto.endpoint,
    AUDITFORGE_BUCKET: sharedBucket,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  }
  const s3 = new S3Client({region: 'us-east-1', endpoint: moto.endpoint, forcePathStyle: true, credentials: {accessKeyId: 'demo', secretAccessKey: 'demo'}})
  try {
    await s3.send(new CreateBucketCommand({Bucket: sharedBucket}))
    await s3.send(new PutBucketVersioningCommand({Bucket: sharedBucket, VersioningConfiguration: {Status: 'Enabled'}}))
    console.log(`Created the platform's shared bucket ${sharedBucket}`)

    const shared = JSON.parse(auditforge(['engagement', 'create', '--name', 'Acme FY26 SOC 2', '--client-id', 'acme', '--json'], env))
    check(shared.source_bucket === '', 'the first engagement lives in the shared bucket')
    const id = shared.engagement_id as string
    // What the platform application writes while the engagement runs.
    const put = (key: string, body: string) => s3.send(new PutObjectCommand({Bucket: sharedBucket, Key: key, Body: body}))
    await put(`auditforge/engagements/${id}/findings.json`, JSON.stringify({findings: [{id: 'F-1', title: 'MFA not enforced'}]}))
    await put(`auditforge/deliverables/${id}.md`, '# Acme FY26 SOC 2\n')
    await put(`auditforge/deliverables/${id}-methodology.md`, '# Methodology\n')
    console.log(`Wrote findings and deliverables for ${id}, as the platform would`)

    const isolated = JSON.parse(auditforge(['engagement', 'create', '--name', 'Globex ISO 27001', '--client-id', 'globex', '--isolated', '--tag', 'cost-center=audit', '--json'], env))
    check(isolated.source_bucket.startsWith('metis-af-'), `the second engagement has its own bucket ${isolated.source_bucket}`)

    auditforge(['engagement', 'list'], env)
    auditforge(['bucket', 'verify', '--all'], env)
    check(true, 'every control holds on the per-engagement bucket')
    // What an auditor compares with Security Hub: the rows labelled with FSBP control ids.
    const fsbp = JSON.parse(auditforge(['bucket', 'verify', isolated.source_bucket, '--standard', 'fsbp', '--json'], env))
    auditforge(['bucket', 'verify', isolated.source_bucket, '--standard', 'fsbp'], env)
    const rows = fsbp.buckets[0].controls as {control: string; status: string; standard_ids: string[]}[]
    check(rows.some((row) => row.control === 'lifecycle' && row.standard_ids.includes('S3.13') && row.status === 'pass'), 'lifecycle passes as FSBP S3.13')
    check(rows.find((row) => row.control === 'tls-only')?.status === 'skipped', 'TLS-only (FSBP S3.5) shows as skipped on this plain-http server, never as passed')

    // Migrate the first engagement out of the shared bucket: plan, execute, verify.
    auditforge(['migrate', '--engagement-id', id], env)
    const migrated = JSON.parse(auditforge(['migrate', '--engagement-id', id, '--execute', '--yes', '--json'], env))
    check(migrated.engagements[0].status === 'migrated' && migrated.engagements[0].copied === 4, `${id} migrated: 4 objects copied and verified`)
    const record = JSON.parse(auditforge(['engagement', 'show', id, '--json'], env))
    check(record.source_bucket === migrated.engagements[0].target_bucket, `the record now points at ${record.source_bucket}`)
    auditforge(['migrate', '--verify-only', '--engagement-id', id], env)
    check(true, 'every migrated version is in the engagement bucket, and the shared bucket is unchanged since the copy')
    // The evidence an auditor asks for: what was copied, verified before the switch, and when.
    auditforge(['migrate', 'evidence', id], env)
    const evidence = JSON.parse(auditforge(['migrate', 'evidence', id, '--json'], env))
    check(evidence.summary.verification.result === 'passed' && evidence.objects.copied === 4, 'the evidence records 4 copies, verified before the record switched')

    // Export its audit log by signed URL and download it, as a partner would.
    // After the migration the platform writes to the engagement's own bucket.
    const event = JSON.stringify({event: 'llm.call', timestamp: new Date().toISOString(), engagement_id: id, actor: 'demo'})
    await s3.send(new PutObjectCommand({Bucket: record.source_bucket, Key: `auditforge/engagements/${id}/audit_log/shard-00001.jsonl`, Body: `${event}\n`}))
    const exported = JSON.parse(auditforge(['audit-log', 'export', id, '--delivery', 'signed_url', '--expires-in', '300', '--json'], env))
    const download = await fetch(exported.signed_url)
    const body = await download.text()
    check(download.ok && Buffer.byteLength(body) === exported.size_bytes, `downloaded ${exported.size_bytes} bytes from the signed URL`)
    check(body.trim().split('\n').length === exported.event_count && exported.event_count === 2, 'the download holds both audit events')
    const log = auditforge(['audit-log', 'export', id], env)
    check(log.trim().split('\n').at(-1)!.includes('"audit_log.exported"'), 'the URL issued is recorded in the audit log (without the URL)')
    check(!log.includes('X-Amz-Signature'), 'no signature in the audit log')
    // The application wrote a shard and an export since the migration: still verified.
    auditforge(['migrate', '--verify-only', '--engagement-id', id], env)
    check(true, 'the application\'s own writes since the migration are reported, not differences')

    auditforge(['engagement', 'delete', id, '--yes'], env)
    auditforge(['engagement', 'delete', isolated.engagement_id, '--yes'], env)
    const after = JSON.parse(auditforge(['engagement', 'list', '--json'], env))
    check(after.engagements.length === 0, 'both engagements are gone from the index')
    console.log(`\n${bold('Demo finished: every step did what it says.')}`)
  } finally {
    s3.destroy()
    await moto.stop()
  }
}

main().catch((error: unknown) => {
  console.error(`\nDemo failed: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
})
