import type { Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** A block device's size in bytes, from sysfs (`stat` reports 0 for devices). */
export async function blockDeviceSize(info: Stats): Promise<number> {
  const major = Math.floor(info.rdev / 256) & 0xfff;
  const minor = (info.rdev & 0xff) | ((info.rdev >> 12) & 0xfff00);
  const sectors = Number((await readFile(`/sys/dev/block/${major}:${minor}/size`, 'utf8')).trim());
  return sectors * 512;
}
