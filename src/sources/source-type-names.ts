/**
 * The source type names, for help texts: importing the registry would load
 * every source and the schema library just to print `--help`. The registry's
 * test keeps this list in step with the registered types.
 */
export const SOURCE_TYPE_NAMES: readonly string[] = ['file', 'ceph-rbd', 'flyingcircus'];
