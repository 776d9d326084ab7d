import { z } from 'zod';
import type { SourceType } from '../registry.js';
import { CephRbdSource, takeSnapshotDirectly } from './ceph-rbd-source.js';
import { cephName, checkInitConfig, parsePoolImage } from './rbd-names.js';
import { DEFAULT_VERIFY_SETTINGS, type VerifySettings } from './rbd-verify.js';

/** Optional verification keys, shared with the flyingcircus source. */
export const verificationConfig = {
  /** `sample` (default): a random sample of blocks; `full`: every byte. */
  verify: z.enum(['sample', 'full'], { error: 'expected "sample" or "full"' }).optional(),
  /** Percent of the image a sample covers (default 1). */
  verify_sample_percent: z
    .number({ error: 'expected a percentage' })
    .gt(0, 'must be more than 0')
    .max(100, 'must be at most 100')
    .optional(),
  /** Seconds a sample verification may take (default 300). */
  verify_time_budget: z.number({ error: 'expected a number of seconds' }).positive('must be positive').optional(),
};

export function verifySettings(config: {
  verify?: 'sample' | 'full' | undefined;
  verify_sample_percent?: number | undefined;
  verify_time_budget?: number | undefined;
}): VerifySettings {
  return {
    mode: config.verify ?? DEFAULT_VERIFY_SETTINGS.mode,
    samplePercent: config.verify_sample_percent ?? DEFAULT_VERIFY_SETTINGS.samplePercent,
    timeBudgetSeconds: config.verify_time_budget ?? DEFAULT_VERIFY_SETTINGS.timeBudgetSeconds,
  };
}

export const cephRbdSourceConfig = z
  .object({
    type: z.literal('ceph-rbd'),
    pool: cephName('pool'),
    image: cephName('image'),
    ...verificationConfig,
  })
  .strict();

export type CephRbdSourceConfig = z.infer<typeof cephRbdSourceConfig>;

const syntax = 'backy init ceph-rbd POOL/IMAGE';

export const cephRbdSourceType: SourceType<CephRbdSourceConfig> = {
  name: 'ceph-rbd',
  initSyntax: syntax,
  schema: cephRbdSourceConfig,
  fromInitArgument(argument) {
    return checkInitConfig(cephRbdSourceConfig, { type: 'ceph-rbd' as const, ...parsePoolImage(argument, syntax) }, argument);
  },
  create: (config) =>
    new CephRbdSource({
      pool: config.pool,
      image: config.image,
      verify: verifySettings(config),
      label: `ceph-rbd ${config.pool}/${config.image}`,
      takeSnapshot: takeSnapshotDirectly,
    }),
};
