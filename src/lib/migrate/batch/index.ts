/** `migrate --engine batch`: the S3 Batch Operations copy engine, its settings and the IAM it needs. */
export {type BatchEngineOptions, autoThreshold, createBatchEngine} from './engine.js'
export {type JobState, describeJobError, jobDescription, jobToken} from './jobs.js'
export {
  type SidecarEntry,
  type WrittenManifest,
  csvRows,
  decodeManifestKey,
  encodeManifestKey,
  manifestLine,
} from './manifest.js'
export {type BatchRolePolicies, type BatchRoleRequest, type PolicyDocument, batchRolePolicies} from './policy.js'
export {
  type ReportFailures,
  type ReportLocation,
  type TaskFailure,
  readFailures,
  reportManifestKey,
  taskFailure,
} from './report.js'
export {type EngineChoice, type EngineFlags, type ResolvedEngine, engineChoices, resolveEngine} from './settings.js'
