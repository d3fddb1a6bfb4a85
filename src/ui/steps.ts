import type {CreateStep} from '../lib/engagements.js'

/** What the spinner says during each step of provisioning and of creating an engagement. */
export const stepText: Record<CreateStep, string> = {
  create: 'Creating the bucket',
  'public-access-block': 'Blocking public access',
  'object-ownership': 'Enforcing bucket-owner object ownership',
  encryption: 'Setting AES256 default encryption',
  versioning: 'Enabling versioning',
  tags: 'Tagging the bucket',
  record: 'Writing the engagement record',
  'audit-log': 'Writing the first audit-log event',
  rollback: 'Removing the new bucket again',
}
