/**
 * Migration of engagements out of the shared platform bucket into their own buckets (seed 001),
 * one module per stage: plan (read-only) → execute (provision, copy, verify, flip) → verify-only
 * → rollback, and the report. Commands import from here.
 */
export * from './copy.js'
export * from './execute.js'
export * from './plan.js'
export * from './report.js'
export * from './failure.js'
export * from './rollback.js'
export * from './verify.js'
export * from './engine.js'
export * from './evidence-report.js'
export * from './reconcile.js'
export * from './purge.js'
export * from './deep-check.js'
export type {EvidenceSummary, VerificationRecord} from './evidence.js'
export * from './batch/index.js'
