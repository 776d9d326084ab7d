import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSettingsFromText } from './check-config.js';

const CONF = '/etc/backy/backy.conf';

test('the status file defaults to {base-dir}/status, base-dir to /srv/backy', () => {
  assert.deepEqual(checkSettingsFromText('jobs: {}\n', CONF), { statusFile: '/srv/backy/status', statusIntervalSeconds: null, jobNames: [] });
  assert.deepEqual(checkSettingsFromText('', CONF), { statusFile: '/srv/backy/status', statusIntervalSeconds: null, jobNames: [] });
  assert.equal(checkSettingsFromText('global:\n  base-dir: /my/backydir\n', CONF).statusFile, '/my/backydir/status');
  assert.equal(checkSettingsFromText('config:\n  base-dir: /b\n', CONF).statusFile, '/b/status');
});

test('status-file wins over base-dir; both must be absolute like the scheduler requires', () => {
  const text = 'config:\n  base-dir: /b\n  status-file: /run/backy.status\n  status-interval: 600\n';
  assert.deepEqual(checkSettingsFromText(text, CONF), { statusFile: '/run/backy.status', statusIntervalSeconds: 600, jobNames: [] });
  assert.throws(() => checkSettingsFromText('config:\n  status-file: st/status\n', CONF), {
    message: 'configuration /etc/backy/backy.conf: config.status-file must be an absolute path',
  });
});

test('mistakes elsewhere in the file are ignored; the keys check reads are validated', () => {
  const manualExample = 'global:\n  base-dir: /my/backydir\njobs:\n  test03:\n    schedule: hourly\n    source:\n      type: flyingcircus,\n';
  assert.equal(checkSettingsFromText(manualExample, CONF).statusFile, '/my/backydir/status');
  assert.deepEqual(checkSettingsFromText(manualExample, CONF).jobNames, ['test03']);
  assert.deepEqual(checkSettingsFromText('jobs:\n  a: broken\n  b: {schedule: nope}\n  c:\n', CONF).jobNames, ['a', 'b', 'c']);
  assert.throws(() => checkSettingsFromText('jobs: [a, b]\n', CONF), { message: 'configuration /etc/backy/backy.conf: "jobs" must be a mapping of job names' });
  assert.throws(() => checkSettingsFromText('config: {}\nglobal: {}\n', CONF), {
    message: 'configuration /etc/backy/backy.conf: both "config" and "global" sections given; use one',
  });
  assert.throws(() => checkSettingsFromText('global: [1]\n', CONF), { message: /"global" must be a mapping/ });
  assert.throws(() => checkSettingsFromText('global:\n  base-dir: 5\n', CONF), { message: /global.base-dir must be an absolute path/ });
  assert.throws(() => checkSettingsFromText('- a\n', CONF), { message: /expected a mapping of sections/ });
  assert.throws(() => checkSettingsFromText('global: {\n', CONF), { message: /^configuration \/etc\/backy\/backy.conf is not valid YAML: / });
});
