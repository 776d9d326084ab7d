import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RbdSnapshot } from './rbd-client.js';
import { planSnapshotCleanup } from './snapshot-cleanup.js';

function snapshot(name: string, isProtected = false): RbdSnapshot {
  return { id: 1, name, size: 1024, protected: isProtected };
}

test('every backy snapshot but the one to keep is removed; protected ones are reported, others untouched', () => {
  const snapshots = [
    snapshot('backy-A'),
    snapshot('backy-B', true),
    snapshot('backy-C'),
    snapshot('nightly'),
    snapshot('backyard'),
    snapshot('Backy-D'),
  ];
  assert.deepEqual(planSnapshotCleanup(snapshots, 'backy-C'), { remove: ['backy-A'], skipProtected: ['backy-B'] });
});

test('without a snapshot to keep (no complete revision), all of backy\'s go', () => {
  assert.deepEqual(planSnapshotCleanup([snapshot('backy-A'), snapshot('backy-B')], null), { remove: ['backy-A', 'backy-B'], skipProtected: [] });
});
