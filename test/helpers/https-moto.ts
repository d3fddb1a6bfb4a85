/**
 * A second moto_server, serving https with a self-signed certificate for 127.0.0.1, for the
 * controls that only apply where requests can use TLS (the TLS-only bucket policy). The CLI
 * trusts the certificate through NODE_EXTRA_CA_CERTS, the SDK witness through its agent, and
 * the aws CLI through --ca-bundle; nothing turns certificate checks off.
 */
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {Agent} from 'node:https'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {S3Client} from '@aws-sdk/client-s3'
import {NodeHttpHandler} from '@smithy/node-http-handler'

import {startMoto} from '../../scripts/moto.js'
import {awsS3api} from './commands.js'

export interface HttpsMoto {
  endpoint: string
  /** The environment for the CLI: this endpoint, and the certificate trusted. */
  env: Record<string, string>
  /** An SDK client for checking state, trusting the certificate. */
  s3: S3Client
  /** `aws s3api` against this server. */
  aws: (args: string[]) => ReturnType<typeof awsS3api>
  stop: () => Promise<void>
}

export async function startHttpsMoto(): Promise<HttpsMoto> {
  const folder = mkdtempSync(join(tmpdir(), 'af-https-moto-'))
  const cert = join(folder, 'cert.pem')
  const key = join(folder, 'key.pem')
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    {stdio: 'ignore'},
  )
  const moto = await startMoto({tls: {cert, key}})
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: moto.endpoint,
    forcePathStyle: true,
    credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
    requestHandler: new NodeHttpHandler({httpsAgent: new Agent({ca: readFileSync(cert)})}),
  })
  return {
    endpoint: moto.endpoint,
    env: {AWS_ENDPOINT_URL: moto.endpoint, NODE_EXTRA_CA_CERTS: cert},
    s3,
    aws: (args) => awsS3api(args, {endpoint: moto.endpoint, caBundle: cert}),
    stop: async () => {
      s3.destroy()
      await moto.stop()
      rmSync(folder, {recursive: true, force: true})
    },
  }
}
