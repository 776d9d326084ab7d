import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeRbdFailure, summarizeStderr } from './rbd-errors.js';

/** What rbd 16.2 prints in each case (captured from the real program). */
const failure = (stderr: string, exitCode: number) =>
  describeRbdFailure({ command: 'rbd snap create rbd/vm@backy-X', pool: 'rbd', image: 'vm', exitCode, signal: null, stderr }).message;

test('a missing pool and a missing image are named', () => {
  assert.equal(
    failure("rbd: error opening pool 'rbd': (2) No such file or directory\n", 2),
    `Ceph pool "rbd" does not exist (rbd snap create rbd/vm@backy-X: error opening pool 'rbd': (2) No such file or directory)`,
  );
  assert.equal(
    failure('rbd: error opening image vm: (2) No such file or directory\n', 2),
    'Ceph image "vm" does not exist in pool "rbd" (rbd snap create rbd/vm@backy-X: error opening image vm: (2) No such file or directory)',
  );
});

test('an unreachable cluster says so, with librados\' reason', () => {
  const stderr = '2026-11-27T02:45:41.493+0000 7f5c0888f380  0 monclient(hunting): authenticate timed out after 20\n\nrbd: couldn\'t connect to the cluster!\n';
  assert.equal(
    failure(stderr, 110),
    'cannot reach the Ceph cluster (authenticate timed out after 20): check CEPH_CONF/CEPH_ARGS and that the monitors are up ' +
      "(rbd snap create rbd/vm@backy-X: couldn't connect to the cluster!)",
  );
});

test('refused credentials and missing configuration are told apart from an unreachable cluster', () => {
  const auth = '2026-11-27T03:09:13.009+0000 7faf1b9206c0 -1 monclient(hunting): handle_auth_bad_method server allowed_methods [2] but i only support [2]\nrbd: couldn\'t connect to the cluster!\n';
  assert.match(failure(auth, 13), /^the Ceph cluster refused access: check the client name, its keyring and capabilities /);
  const noConf = 'did not load config file, using default settings.\nunable to get monitor info from DNS SRV with service name: ceph-mon\nrbd: couldn\'t connect to the cluster!\n';
  assert.equal(
    failure(noConf, 2),
    "no Ceph monitors configured: set CEPH_CONF or create /etc/ceph/ceph.conf (rbd snap create rbd/vm@backy-X: couldn't connect to the cluster!)",
  );
});

test('anything else keeps rbd\'s own words and the exit status', () => {
  assert.equal(failure('rbd: export-diff error: (5) Input/output error\n', 5), 'rbd snap create rbd/vm@backy-X failed with exit status 5: export-diff error: (5) Input/output error');
  assert.equal(summarizeStderr('Exporting image: 15% complete...\nrbd: failed to create snapshot: (17) File exists\n'), 'failed to create snapshot: (17) File exists');
});
