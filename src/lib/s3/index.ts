/**
 * The storage layer: how auditforge lists, deletes, conditionally writes and tags in S3. Domain
 * modules (engagements, buckets, migrate, stores, doctor) say what they want through these
 * functions and never re-learn pagination, key encoding, batch limits or retry rules.
 */
export * from './conditional.js'
export * from './deletion.js'
export * from './engagement-objects.js'
export * from './listing.js'
export * from './tags.js'
export * from './streaming.js'
export * from './checksums.js'
export * from './object-version.js'
export * from './versioning.js'
export * from './bucket-settings.js'
