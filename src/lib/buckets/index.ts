/**
 * Per-engagement buckets: the controls table, provisioning, verification and repair, and
 * decommissioning. Every call to a per-engagement bucket passes ExpectedBucketOwner, so a bucket
 * that changed hands is never read or written.
 */
export * from './controls.js'
export * from './decommission.js'
export * from './inventory.js'
export * from './names.js'
export * from './principals.js'
export * from './provision.js'
export * from './tags.js'
export * from './tombstones.js'
export * from './verify.js'
