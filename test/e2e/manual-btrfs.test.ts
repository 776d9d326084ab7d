import { test } from 'node:test';
import { manualScenario } from './manual-scenario.js';

test('the manual on btrfs: backups share extents, zeroed regions become holes, every revision restores', async () => {
  await manualScenario('btrfs');
});
