import {defaultProvider} from '@aws-sdk/credential-provider-node'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {CredentialTrail} from '../../src/lib/credentials.js'

describe('CredentialTrail', () => {
  let folder: string
  const saved = {...process.env}

  beforeEach(async () => {
    folder = await mkdtemp(join(tmpdir(), 'af-trail-'))
    await writeFile(join(folder, 'config'), '[profile present]\nregion = eu-west-1\n')
    await writeFile(join(folder, 'credentials'), '')
  })
  afterEach(async () => {
    process.env = {...saved}
    await rm(folder, {recursive: true, force: true})
  })

  it("keeps the reason each source of the SDK's chain gave, by source, without the chain's last word", async () => {
    const env = {
      AWS_CONFIG_FILE: join(folder, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(folder, 'credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
    }
    process.env = {PATH: saved.PATH, HOME: folder, ...env}
    const trail = new CredentialTrail('nosuch', env)
    await expect(defaultProvider({profile: 'nosuch', logger: trail.logger})()).rejects.toThrow(
      'Could not load credentials from any providers',
    )
    const lookup = trail.snapshot()
    expect(lookup.profile).toEqual({name: 'nosuch', from: '--profile'})
    expect(lookup.files).toEqual({config: join(folder, 'config'), credentials: join(folder, 'credentials')})
    expect(lookup.container).toBeUndefined()
    expect(lookup.reasons.fromIni).toBe(
      'Could not resolve credentials using profile: [nosuch] in configuration/credentials file(s).',
    )
    expect(lookup.reasons.remoteProvider).toBe('EC2 Instance Metadata Service access disabled')
  })

  it('names the profile from AWS_PROFILE, and the container endpoint by its origin only', () => {
    const lookup = new CredentialTrail(undefined, {
      AWS_PROFILE: 'ops',
      AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://127.0.0.1:51679/creds?id=secret-ish',
    }).snapshot()
    expect(lookup.profile).toEqual({name: 'ops', from: 'AWS_PROFILE'})
    expect(lookup.files).toEqual({config: '~/.aws/config', credentials: '~/.aws/credentials'})
    expect(lookup.container).toEqual({variable: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', origin: 'http://127.0.0.1:51679'})
    // The relative URI wins, as in the SDK, and is a path on the ECS agent's address.
    expect(
      new CredentialTrail(undefined, {
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/abc',
        AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://127.0.0.1:1/x',
      }).snapshot().container,
    ).toEqual({variable: 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', origin: 'http://169.254.170.2'})
  })
})
