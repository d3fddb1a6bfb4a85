#!/usr/bin/env node
// Runs the CLI from a fresh `npm run build`; kept for parity with oclif's layout.
import {execute} from '@oclif/core'

await execute({development: true, dir: import.meta.url})
