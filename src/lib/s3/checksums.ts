/** The checksum S3 stored with an object, read from any answer that carries one. */

/** An object's stored checksum: algorithm, type (FULL_OBJECT or COMPOSITE) and value. */
export interface StoredChecksum {
  algorithm: string
  type: string | null
  value: string
}

const checksumFields = ['CRC64NVME', 'CRC32', 'CRC32C', 'SHA1', 'SHA256'] as const

type ChecksumFields = Partial<Record<`Checksum${(typeof checksumFields)[number]}` | 'ChecksumType', string>>

/** The checksum in an answer (PutObject, CopyObjectResult, CompleteMultipartUpload, HeadObject), or null. */
export function checksumOf(reply: ChecksumFields | undefined): StoredChecksum | null {
  for (const algorithm of checksumFields) {
    const value = reply?.[`Checksum${algorithm}`]
    if (value) return {algorithm, type: reply?.ChecksumType ?? null, value}
  }
  return null
}
