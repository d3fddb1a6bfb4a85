/**
 * Starts and stops a local S3 API server (moto_server) on a free loopback port: for the tests,
 * the demo and the benchmarks alike. A missing moto_server is an error with the install hint.
 */
import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import {createServer} from 'node:net'

export const installHint = 'moto_server was not found on PATH. Install it with: pip install "moto[server]"'

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

async function waitUntilUp(endpoint: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with code ${child.exitCode}`)
    try {
      const reply = await fetch(`${endpoint}/moto-api/`)
      if (reply.ok || reply.status < 500) return
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`moto_server did not answer on ${endpoint} within 30 s`)
}

/** Starts moto_server; returns its endpoint and a stop function. Used by tests, demo and benchmarks. */
export async function startMoto(): Promise<{endpoint: string; stop: () => Promise<void>}> {
  if (spawnSync('moto_server', ['--help'], {stdio: 'ignore'}).error) throw new Error(installHint)
  const port = await freePort()
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], {stdio: 'ignore'})
  const endpoint = `http://127.0.0.1:${port}`
  await waitUntilUp(endpoint, child)
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
