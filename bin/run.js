#!/usr/bin/env node
import {execute} from '@oclif/core'

await execute({dir: import.meta.url})
// A finished command exits now: an SDK timer left pending must not hold the shell.
process.exit()
