import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sourceTypeNames } from './registry.js';
import { SOURCE_TYPE_NAMES } from './source-type-names.js';

test('the help text lists exactly the registered source types', () => {
  assert.deepEqual([...SOURCE_TYPE_NAMES], sourceTypeNames());
});
