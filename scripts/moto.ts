/**
 * Starts and stops a local S3 API server (moto_server) on a free loopback port: for the tests,
 * the demo and the benchmarks alike. A missing moto_server is an error with the install hint.
 */
import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {connect} from 'node:tls'

export const installHint = 'moto_server was not found on PATH. Install it with: pip install "moto[server]"'

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      )
    })
  })
}

/** Whether a TLS handshake with the certificate succeeds: fetch cannot be told to trust it. */
function handshake(port: number, ca: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({host: '127.0.0.1', port, ca}, () => {
      socket.end()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

async function waitUntilUp(endpoint: string, child: ChildProcess, ca?: Buffer): Promise<void> {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with code ${child.exitCode}`)
    try {
      if (ca) {
        if (await handshake(Number(new URL(endpoint).port), ca)) return
      } else {
        const reply = await fetch(`${endpoint}/moto-api/`)
        if (reply.ok || reply.status < 500) return
      }
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`moto_server did not answer on ${endpoint} within 30 s`)
}

/**
 * Starts moto_server; returns its endpoint and a stop function. Used by tests, demo and
 * benchmarks. With `tls` (a certificate for 127.0.0.1 and its key, PEM files) it serves https.
 */
export async function startMoto(
  options: {tls?: {cert: string; key: string}} = {},
): Promise<{endpoint: string; stop: () => Promise<void>}> {
  if (spawnSync('moto_server', ['--help'], {stdio: 'ignore'}).error) throw new Error(installHint)
  const port = await freePort()
  const tls = options.tls ? ['-c', options.tls.cert, '-k', options.tls.key] : []
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port), ...tls], {stdio: 'ignore'})
  const endpoint = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`
  await waitUntilUp(endpoint, child, options.tls ? readFileSync(options.tls.cert) : undefined)
  return {
    endpoint,
    stop: async () => {
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))])
      if (child.exitCode === null) child.kill('SIGKILL')
    },
  }
}
