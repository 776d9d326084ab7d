import { z } from 'zod';
import { BackyError } from '../../util/errors.js';
import type { SourceType } from '../registry.js';
import { CephRbdSource } from '../ceph-rbd/ceph-rbd-source.js';
import { verificationConfig, verifySettings } from '../ceph-rbd/ceph-rbd-source-type.js';
import { cephName, checkInitConfig, parsePoolImage } from '../ceph-rbd/rbd-names.js';
import { freezeAndSnapshot } from './freeze-snapshot.js';

const DEFAULT_SNAPSHOT_TIMEOUT = 30;

export const flyingCircusSourceConfig = z
  .object({
    type: z.literal('flyingcircus'),
    pool: cephName('pool'),
    image: cephName('image'),
    vm: z
      .string({ error: 'expected the name of the VM to freeze' })
      .min(1, 'must not be empty')
      .refine((value) => !/[,;\s]$/.test(value), { message: 'has a trailing comma or blank; remove it' })
      .refine((value) => /^[A-Za-z0-9_.-]+$/.test(value), { message: 'is not a valid VM name' }),
    consul_acl_token: z.string({ error: 'expected a Consul ACL token string' }).min(1).optional(),
    /** Seconds to wait for the VM's host to take the snapshot (default 30). */
    snapshot_timeout: z.number({ error: 'expected a number of seconds' }).positive('must be positive').optional(),
    ...verificationConfig,
  })
  .strict();

export type FlyingCircusSourceConfig = z.infer<typeof flyingCircusSourceConfig>;

const syntax = 'backy init flyingcircus POOL/IMAGE,VM[,CONSUL_ACL_TOKEN]';

export const flyingCircusSourceType: SourceType<FlyingCircusSourceConfig> = {
  name: 'flyingcircus',
  initSyntax: syntax,
  schema: flyingCircusSourceConfig,
  fromInitArgument(argument) {
    const parts = argument.split(',').map((part) => part.trim());
    if (parts.length < 2 || parts.length > 3 || parts.some((part) => part.length === 0)) {
      throw new BackyError(`invalid SOURCE ${JSON.stringify(argument)}: expected POOL/IMAGE,VM[,CONSUL_ACL_TOKEN] (${syntax})`);
    }
    const config: FlyingCircusSourceConfig = {
      type: 'flyingcircus',
      ...parsePoolImage(parts[0]!, syntax),
      vm: parts[1]!,
      ...(parts[2] ? { consul_acl_token: parts[2] } : {}),
    };
    return checkInitConfig(flyingCircusSourceConfig, config, argument);
  },
  create: (config) =>
    new CephRbdSource({
      pool: config.pool,
      image: config.image,
      verify: verifySettings(config),
      label: `flyingcircus ${config.pool}/${config.image} (VM ${config.vm})`,
      takeSnapshot: freezeAndSnapshot({
        vm: config.vm,
        // Consul's own tools read the token from CONSUL_HTTP_TOKEN too.
        consulToken: config.consul_acl_token ?? (process.env.CONSUL_HTTP_TOKEN || undefined),
        timeoutSeconds: config.snapshot_timeout ?? DEFAULT_SNAPSHOT_TIMEOUT,
      }),
    }),
};
