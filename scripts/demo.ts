/**
 * The demo: the whole lifecycle of the real CLI against a local S3 server. Starts moto_server on
 * a free loopback port, creates the platform's shared bucket, then runs auditforge step by step,
 * printing each command and checking that it did what it says. Exits non-zero on the first step
 * that does not.
 */
import {spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'

import {CreateBucketCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client} from '@aws-sdk/client-s3'

import {startBatchJobService} from '../test/fixtures/batch-job-service.js'
import {startMoto} from './moto.js'

const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url))
// The SDK's notice about future Node versions is for developers; the demo's own clients (the
// job service) would print it in the middle of the walkthrough.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
const sharedBucket = 'demo-platform-shared'
const color = process.stdout.isTTY && !process.env.NO_COLOR
const bold = (text: string) => (color ? `\u001b[1m${text}\u001b[22m` : text)

class StepFailed extends Error {}

/** Runs the CLI as a child process (not synchronously: the job service lives in this process and must keep answering). */
async function auditforge(args: string[], env: NodeJS.ProcessEnv, expectExit = 0): Promise<string> {
  console.log(
    `\n${bold(`$ auditforge ${args.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg}'`)).join(' ')}`)}`,
  )
  const child = spawn(process.execPath, [bin, ...args], {env, stdio: ['ignore', 'pipe', 'inherit']})
  let stdout = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  const status = await new Promise<number | null>((resolve) => child.once('close', resolve))
  process.stdout.write(stdout)
  if (status !== expectExit) throw new StepFailed(`exited ${status}, expected ${expectExit}`)
  return stdout
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new StepFailed(what)
  console.log(`  ✔ ${what}`)
}

async function main(): Promise<void> {
  const moto = await startMoto()
  console.log(`Local S3 server (moto_server) on ${moto.endpoint}`)
  // S3 Batch Operations has no local server of its own: the tests' loopback job service stands in
  // for the S3 Control API, copying against moto, as moto stands in for S3.
  const batch = await startBatchJobService(moto.endpoint)
  console.log(`Local S3 Batch Operations job service (test fixture) on ${batch.endpoint}`)
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ACCESS_KEY_ID: 'demo',
    AWS_SECRET_ACCESS_KEY: 'demo',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: moto.endpoint,
    AWS_ENDPOINT_URL_S3_CONTROL: batch.endpoint,
    AUDITFORGE_BUCKET: sharedBucket,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  }
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: moto.endpoint,
    forcePathStyle: true,
    credentials: {accessKeyId: 'demo', secretAccessKey: 'demo'},
  })
  try {
    await s3.send(new CreateBucketCommand({Bucket: sharedBucket}))
    await s3.send(new PutBucketVersioningCommand({Bucket: sharedBucket, VersioningConfiguration: {Status: 'Enabled'}}))
    console.log(`Created the platform's shared bucket ${sharedBucket}`)

    const shared = JSON.parse(
      await auditforge(['engagement', 'create', '--name', 'Acme FY26 SOC 2', '--client-id', 'acme', '--json'], env),
    )
    check(shared.source_bucket === '', 'the first engagement lives in the shared bucket')
    const id = shared.engagement_id as string
    // What the platform application writes while the engagement runs.
    const put = (key: string, body: string) =>
      s3.send(new PutObjectCommand({Bucket: sharedBucket, Key: key, Body: body}))
    await put(
      `auditforge/engagements/${id}/findings.json`,
      JSON.stringify({findings: [{id: 'F-1', title: 'MFA not enforced'}]}),
    )
    await put(`auditforge/deliverables/${id}.md`, '# Acme FY26 SOC 2\n')
    await put(`auditforge/deliverables/${id}-methodology.md`, '# Methodology\n')
    console.log(`Wrote findings and deliverables for ${id}, as the platform would`)

    const isolated = JSON.parse(
      await auditforge(
        [
          'engagement',
          'create',
          '--name',
          'Globex ISO 27001',
          '--client-id',
          'globex',
          '--isolated',
          '--tag',
          'cost-center=audit',
          '--json',
        ],
        env,
      ),
    )
    check(
      isolated.source_bucket.startsWith('metis-af-'),
      `the second engagement has its own bucket ${isolated.source_bucket}`,
    )

    await auditforge(['engagement', 'list'], env)
    await auditforge(['bucket', 'verify', '--all'], env)
    check(true, 'every control holds on the per-engagement bucket')
    // What an auditor compares with Security Hub: the rows labelled with FSBP control ids.
    const fsbp = JSON.parse(
      await auditforge(['bucket', 'verify', isolated.source_bucket, '--standard', 'fsbp', '--json'], env),
    )
    await auditforge(['bucket', 'verify', isolated.source_bucket, '--standard', 'fsbp'], env)
    const rows = fsbp.buckets[0].controls as {control: string; status: string; standard_ids: string[]}[]
    check(
      rows.some((row) => row.control === 'lifecycle' && row.standard_ids.includes('S3.13') && row.status === 'pass'),
      'lifecycle passes as FSBP S3.13',
    )
    check(
      rows.find((row) => row.control === 'tls-only')?.status === 'skipped',
      'TLS-only (FSBP S3.5) shows as skipped on this plain-http server, never as passed',
    )

    // Migrate the first engagement out of the shared bucket: plan, execute, verify.
    await auditforge(['migrate', '--engagement-id', id], env)
    const migrated = JSON.parse(
      await auditforge(['migrate', '--engagement-id', id, '--execute', '--yes', '--json'], env),
    )
    check(
      migrated.engagements[0].status === 'migrated' && migrated.engagements[0].copied === 4,
      `${id} migrated: 4 objects copied and verified`,
    )
    const record = JSON.parse(await auditforge(['engagement', 'show', id, '--json'], env))
    check(
      record.source_bucket === migrated.engagements[0].target_bucket,
      `the record now points at ${record.source_bucket}`,
    )
    await auditforge(['migrate', '--verify-only', '--engagement-id', id], env)
    check(true, 'every migrated version is in the engagement bucket, and the shared bucket is unchanged since the copy')
    // The evidence an auditor asks for: what was copied, verified before the switch, and when.
    await auditforge(['migrate', 'evidence', id], env)
    const evidence = JSON.parse(await auditforge(['migrate', 'evidence', id, '--json'], env))
    check(
      evidence.summary.verification.result === 'passed' && evidence.objects.copied === 4,
      'the evidence records 4 copies, verified before the record switched',
    )

    // Export its audit log by signed URL and download it, as a partner would.
    // After the migration the platform writes to the engagement's own bucket.
    const event = JSON.stringify({
      event: 'llm.call',
      timestamp: new Date().toISOString(),
      engagement_id: id,
      actor: 'demo',
    })
    await s3.send(
      new PutObjectCommand({
        Bucket: record.source_bucket,
        Key: `auditforge/engagements/${id}/audit_log/shard-00001.jsonl`,
        Body: `${event}\n`,
      }),
    )
    const exported = JSON.parse(
      await auditforge(['audit-log', 'export', id, '--delivery', 'signed_url', '--expires-in', '300', '--json'], env),
    )
    const download = await fetch(exported.signed_url)
    const body = await download.text()
    check(
      download.ok && Buffer.byteLength(body) === exported.size_bytes,
      `downloaded ${exported.size_bytes} bytes from the signed URL`,
    )
    check(
      body.trim().split('\n').length === exported.event_count && exported.event_count === 2,
      'the download holds both audit events',
    )
    const log = await auditforge(['audit-log', 'export', id], env)
    check(
      log.trim().split('\n').at(-1)!.includes('"audit_log.exported"'),
      'the URL issued is recorded in the audit log (without the URL)',
    )
    check(!log.includes('X-Amz-Signature'), 'no signature in the audit log')
    // The application wrote a shard and an export since the migration: still verified.
    await auditforge(['migrate', '--verify-only', '--engagement-id', id], env)
    check(true, "the application's own writes since the migration are reported, not differences")

    // After the soak the shared bucket's copy goes: refused at the default 30 days, done at 0 here.
    await auditforge(['migrate', 'purge-source', '--engagement-id', id], env, 5)
    const purged = JSON.parse(
      await auditforge(
        ['migrate', 'purge-source', '--engagement-id', id, '--min-age', '0', '--execute', '--yes', '--json'],
        env,
      ),
    )
    check(
      purged.status === 'purged' && purged.purge.removed.versions === 4 && purged.purge.left.versions === 0,
      `every version of ${id} is gone from ${sharedBucket}, recorded in its own bucket`,
    )
    await auditforge(['migrate', 'rollback', '--engagement-id', id, '--yes'], env, 5)
    check(true, 'rollback is refused: the shared bucket no longer holds the data')

    // A large engagement goes through S3 Batch Operations instead: one job copies it, the report
    // becomes the same evidence, and the same verification comes before the switch.
    const large = JSON.parse(
      await auditforge(['engagement', 'create', '--name', 'Initech SOX 404', '--client-id', 'initech', '--json'], env),
    )
    const largeId = large.engagement_id as string
    for (let shard = 0; shard < 25; shard++) {
      await put(
        `auditforge/engagements/${largeId}/audit_log/shard-${String(shard).padStart(5, '0')}.jsonl`,
        `${JSON.stringify({event: 'llm.call', shard})}\n`,
      )
    }
    await put(
      `auditforge/engagements/${largeId}/source/general ledger, FY26 (final).csv`,
      'account,amount\n4000,1250.00\n',
    )
    await put(`auditforge/engagements/${largeId}/findings.json`, JSON.stringify({findings: []}))
    console.log(`Wrote 27 objects for ${largeId}, as the platform would`)
    await auditforge(['migrate', 'batch-role', '--engagement-id', largeId, '--account-id', '123456789012'], env)
    const role = 'arn:aws:iam::123456789012:role/auditforge-batch'
    const viaBatch = JSON.parse(
      await auditforge(
        [
          'migrate',
          '--engagement-id',
          largeId,
          '--execute',
          '--yes',
          '--engine',
          'batch',
          '--role-arn',
          role,
          '--json',
        ],
        env,
      ),
    )
    const outcome = viaBatch.engagements[0]
    check(
      outcome.status === 'migrated' && outcome.batch.succeeded === 27 && outcome.batch.copied_locally === 0,
      `${largeId} migrated by S3 Batch Operations job ${outcome.batch.job_id}: 27 tasks succeeded, verified`,
    )
    await auditforge(['migrate', '--verify-only', '--engagement-id', largeId], env)
    const batchEvidence = JSON.parse(await auditforge(['migrate', 'evidence', largeId, '--json'], env))
    check(
      batchEvidence.summary.verification.result === 'passed' && batchEvidence.objects.copied === 27,
      'the evidence records the 27 copies of the job, verified before the record switched',
    )

    await auditforge(['engagement', 'delete', id, '--yes'], env)
    await auditforge(['engagement', 'delete', isolated.engagement_id, '--yes'], env)
    await auditforge(['engagement', 'delete', largeId, '--yes'], env)
    const after = JSON.parse(await auditforge(['engagement', 'list', '--json'], env))
    check(after.engagements.length === 0, 'every engagement is gone from the index')
    console.log(`\n${bold('Demo finished: every step did what it says.')}`)
  } finally {
    s3.destroy()
    await batch.stop()
    await moto.stop()
  }
}

main().catch((error: unknown) => {
  console.error(`\nDemo failed: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
})
