/** The per-engagement bucket module, by its long-standing path; its parts live in `./buckets/`. */
export * from './buckets/index.js'
