import { test } from 'node:test';
import { manualScenario } from './manual-scenario.js';

test('the manual on ext4 with the cow store: sparse copies with one warning per backup, every revision restores', async () => {
  await manualScenario('ext4', ['--store', 'cow']);
});
