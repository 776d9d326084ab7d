import { open } from 'node:fs/promises';
import { copyToSparseFile } from '../image-copy.js';

/** Copies a file, leaving holes where the source reads as zeros. */
export async function copySparse(source: string, target: string): Promise<void> {
  const input = await open(source, 'r');
  try {
    const output = await open(target, 'wx', 0o640);
    try {
      await copyToSparseFile(input, (await input.stat()).size, output, {});
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}
