import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { validateConfig } from './config-validate.js';

const FILE = '/etc/backy.conf';

/** The manual's example configuration, as printed, with its three mistakes. */
const MANUAL_EXAMPLE = readFileSync(new URL('../../../test/scheduler/manual-example.conf', import.meta.url), 'utf8');

const corrected = MANUAL_EXAMPLE.replace('schedule: hourly', 'schedule: frequent')
  .replace('type: flyingcircus,', 'type: flyingcircus')
  .replace('vm: test03,', 'vm: test03');

function validate(text: string) {
  return validateConfig(YAML.parse(text), FILE);
}

test("the manual's example mistakes are each reported precisely", () => {
  const result = validate(MANUAL_EXAMPLE);
  assert.equal(result.config, undefined);
  assert.deepEqual(result.errors, [
    `${FILE}: job "test03": schedule: "hourly" is not a defined schedule (defined schedules: default, frequent; "hourly" is a tag of schedule "frequent")`,
    `${FILE}: job "test03": source.type: unknown source type "flyingcircus," (did you mean "flyingcircus"? remove the trailing ","); known types: file, ceph-rbd, flyingcircus`,
    `${FILE}: job "test03": source.vm: has a trailing comma or blank; remove it`,
  ]);
});

test("the manual's example, corrected, is valid", () => {
  const { config, errors, warnings } = validate(corrected);
  assert.deepEqual(errors, []);
  assert.deepEqual(warnings, []);
  assert.ok(config);
  assert.equal(config.baseDir, '/my/backydir');
  assert.equal(config.workerLimit, 3);
  assert.equal(config.statusFile, '/my/backydir/status');
  assert.deepEqual([...config.jobs.keys()], ['test01', 'test02', 'test03']);
  const test03 = config.jobs.get('test03')!;
  assert.equal(test03.scheduleName, 'frequent');
  assert.deepEqual(test03.schedule, [
    { tag: 'hourly', intervalSeconds: 3600, keep: 24 },
    { tag: 'daily', intervalSeconds: 86400, keep: 7 },
    { tag: 'weekly', intervalSeconds: 604800, keep: 12 },
  ]);
  assert.deepEqual(test03.source, {
    type: 'flyingcircus',
    pool: 'test',
    image: 'test03.root',
    vm: 'test03',
    consul_acl_token: 'a211c244-846b-11e5-999b-081196cf15b4',
  });
  assert.deepEqual(config.jobs.get('test01')!.source, { type: 'file', filename: '/path/to/vm/image' });
});

test('the manual\'s defaults apply; the global section may be called "config"', () => {
  const text = corrected.replace(/global:\n.*\n.*\n/, 'config: {}\n');
  const { config, errors } = validate(text);
  assert.deepEqual(errors, []);
  assert.equal(config!.baseDir, '/srv/backy');
  assert.equal(config!.workerLimit, 1);
  assert.equal(config!.statusFile, '/srv/backy/status');
  assert.equal(config!.statusIntervalSeconds, 30);
  assert.deepEqual(config!.telnetAddresses, ['127.0.0.1', '::1']);
  assert.equal(config!.telnetPort, 6023);
  const withoutSection = validate(corrected.replace(/global:\n.*\n.*\n/, ''));
  assert.equal(withoutSection.config!.baseDir, '/srv/backy');
});

test('global options are checked and both section names at once are refused', () => {
  const text = `
config: {base-dir: /a}
global:
  base-dir: relative/dir
  worker_limit: 2
  status-interval: 0
  telnet-addrs: "127.0.0.1 ::1"
  telnet-port: 70000
  status-file: /var/lib/backy/status
schedules: {}
jobs: {}
`;
  assert.deepEqual(validate(text).errors, [
    `${FILE}: both "global" and "config" hold the global options; use one of them`,
    `${FILE}: global: base-dir: expected the directory holding the job directories as an absolute path (e.g. /srv/backy)`,
    `${FILE}: global: status-interval: expected a number of seconds from 1 to 3600 (e.g. 30)`,
    `${FILE}: global: telnet-addrs: listen addresses are separated by commas, not blanks`,
    `${FILE}: global: telnet-port: expected a port number from 1 to 65535`,
    `${FILE}: global: unknown key "worker_limit" (did you mean "worker-limit"?); expected base-dir, worker-limit, status-file, status-interval, telnet-addrs, telnet-max-sessions, telnet-idle-timeout, telnet-port, http-addrs, http-port, api-tokens, backup-completed-callback, callback-timeout, store, scrub-interval`,
  ]);
});

test('status-interval is bounded: 1 s to 1 h', () => {
  const errors = (value: string) => validate(`global: {status-interval: ${value}}\njobs: {}\n`).errors;
  for (const bad of ['0', '0.5', '-30', '3601', '1e12', '.inf', '"30"']) {
    assert.deepEqual(errors(bad), [`${FILE}: global: status-interval: expected a number of seconds from 1 to 3600 (e.g. 30)`], bad);
  }
  for (const good of ['1', '30', '3600']) assert.deepEqual(errors(good), [], good);
});

test('base-dir and status-file are refused in system directories; base-dir also as a shared one', () => {
  const errors = (key: string, value: string) => validate(`global: {${key}: ${JSON.stringify(value)}}\njobs: {}\n`).errors;
  const own = '; use a directory of its own (e.g. /srv/backy)';
  assert.deepEqual(errors('base-dir', '/'), [`${FILE}: global: base-dir: / holds more than backups${own}`]);
  assert.deepEqual(errors('base-dir', '/var/'), [`${FILE}: global: base-dir: /var holds more than backups${own}`]);
  for (const [path, tree] of [['/etc', '/etc'], ['/usr/local/backy', '/usr'], ['/srv/../etc/backy', '/etc'], ['/boot', '/boot'], ['/proc/1', '/proc'], ['/sys', '/sys'], ['/dev/shm/x', '/dev'], ['/bin', '/bin'], ['/run/backy', '/run']]) {
    assert.deepEqual(errors('base-dir', path), [`${FILE}: global: base-dir: ${tree} is a system directory${own}`], path);
  }
  assert.deepEqual(errors('status-file', '/etc/passwd'), [
    `${FILE}: global: status-file: /etc is a system directory; the status file is replaced on every write: put it elsewhere (e.g. /srv/backy/status)`,
  ]);
  for (const path of ['/srv/backy', '/var/lib/backy', '/backup', '/srv/backy-etc']) assert.deepEqual(errors('base-dir', path), [], path);
  assert.deepEqual(errors('status-file', '/run/backy/status'), []);
});

test('relative source file names are refused: the scheduler backs up from elsewhere', () => {
  const result = validate('schedules: {s: {daily: {interval: 1d, keep: 1}}}\njobs:\n  vm: {schedule: s, source: {type: file, filename: images/vm.img}}\n');
  assert.deepEqual(result.errors, [
    `${FILE}: job "vm": source.filename: "images/vm.img" is relative; the scheduler runs backups elsewhere: give the absolute path`,
  ]);
});

test('telnet sessions: a cap of 1 to 1000 and an idle timeout, with defaults 64 and 10 minutes', () => {
  const config = (global: string) => validate(`global: {${global}}\njobs: {}\n`);
  assert.deepEqual([config('').config?.telnetMaxSessions, config('').config?.telnetIdleTimeoutSeconds], [64, 600]);
  assert.deepEqual([config('telnet-max-sessions: 5, telnet-idle-timeout: 30').config?.telnetMaxSessions, config('telnet-idle-timeout: 30').config?.telnetIdleTimeoutSeconds], [5, 30]);
  assert.deepEqual(config('telnet-max-sessions: 0').errors, [`${FILE}: global: telnet-max-sessions: expected a positive integer`]);
  assert.deepEqual(config('telnet-max-sessions: 5000').errors, [`${FILE}: global: telnet-max-sessions: expected a number of sessions from 1 to 1000`]);
  assert.deepEqual(config('telnet-idle-timeout: 0').errors, [`${FILE}: global: telnet-idle-timeout: expected a number of seconds from 1 to 86400 (e.g. 600)`]);
});

test('schedules: durations need a unit, keep a positive integer, tags a valid name', () => {
  const text = `
schedules:
  s:
    hourly: {interval: 3600, keep: 24}
    daily: {interval: 1y, keep: 0}
    "bad tag": {interval: 1d, keep: 1}
    weekly: {interval: 1w, keep: 2, keeep: 3}
  empty: {}
jobs:
  j: {schedule: s, source: {type: file, filename: /x}}
`;
  assert.deepEqual(validate(text).errors, [
    `${FILE}: schedule "s": hourly: interval: 3600 has no unit (e.g. 3600s): expected an integer with one of the suffixes s, m, h, d, w (e.g. 1d)`,
    `${FILE}: schedule "s": daily: interval: "1y" is not a duration: expected an integer with one of the suffixes s, m, h, d, w (e.g. 1d)`,
    `${FILE}: schedule "s": daily: keep: expected a positive integer`,
    `${FILE}: schedule "s": bad tag: not a valid tag name: invalid tag "bad tag": only letters, digits, "_", "." and "-" are allowed`,
    `${FILE}: schedule "s": weekly: unknown key "keeep" (did you mean "keep"?); expected interval, keep`,
    `${FILE}: schedule "empty": defines no tags; expected e.g. daily: {interval: 1d, keep: 7}`,
  ]);
});

test('a tag key must be exactly one tag: backups store tags split at commas and trimmed', () => {
  const text = `
schedules:
  s:
    "daily,weekly": {interval: 1d, keep: 1}
    " hourly": {interval: 1h, keep: 1}
    "monthly ": {interval: 4w, keep: 1}
jobs:
  j: {schedule: s, source: {type: file, filename: /x}}
`;
  assert.deepEqual(validate(text).errors, [
    `${FILE}: schedule "s": daily,weekly: not a valid tag name: "daily,weekly" is not one tag (a schedule names each tag on its own, without blanks or commas)`,
    `${FILE}: schedule "s":  hourly: not a valid tag name: " hourly" is not one tag (a schedule names each tag on its own, without blanks or commas)`,
    `${FILE}: schedule "s": monthly : not a valid tag name: "monthly " is not one tag (a schedule names each tag on its own, without blanks or commas)`,
  ]);
});

test('an interval beyond 100 years is refused: its slots would be no valid dates', () => {
  const text = `
global: {scrub-interval: 40000d}
schedules:
  s:
    daily: {interval: 1000000000w, keep: 1}
    weekly: {interval: 36500d, keep: 1}
jobs:
  j: {schedule: s, source: {type: file, filename: /x}}
`;
  assert.deepEqual(validate(text).errors, [
    `${FILE}: global: scrub-interval: "40000d" is longer than 100 years (36500d); expected a shorter duration`,
    `${FILE}: schedule "s": daily: interval: "1000000000w" is longer than 100 years (36500d); expected a shorter duration`,
  ]);
});

test('the status file is refused where its rename would replace what backy keeps in base-dir', () => {
  const errors = (statusFile: string) => validate(`global: {base-dir: /b, status-file: "${statusFile}"}\njobs: {}\n`).errors;
  assert.deepEqual(errors('/b/.lock'), [`${FILE}: global: status-file: /b/.lock is one of base-dir's own files (names starting with "."); use another name (e.g. /b/status)`]);
  assert.deepEqual(errors('/b/x/../.chunks'), [`${FILE}: global: status-file: /b/.chunks is one of base-dir's own files (names starting with "."); use another name (e.g. /b/status)`]);
  const inside = (path: string) => `${FILE}: global: status-file: ${path} is inside a directory of base-dir /b, where job directories live; put it in base-dir itself or elsewhere`;
  assert.deepEqual(errors('/b/a/config'), [inside('/b/a/config')]);
  assert.deepEqual(errors('/b//a/./X.rev'), [inside('/b/a/X.rev')]);
  assert.deepEqual(errors('/b/'), [`${FILE}: global: status-file: /b/ is the base directory; name a file (e.g. /b/status)`]);
  for (const fine of ['/b/status', '/run/backy/status', '/bb/.status']) assert.deepEqual(errors(fine), [], fine);
  assert.equal(validate('global: {base-dir: /b, status-file: "/b//status"}\njobs: {}\n').config?.statusFile, '/b/status');
});

test('job names must be safe directory names and must not be the status file', () => {
  const job = '{schedule: s, source: {type: file, filename: /x}}';
  const text = `
global: {base-dir: /b}
schedules: {s: {daily: {interval: 1d, keep: 1}}}
jobs:
  "..": ${job}
  "a/b": ${job}
  ".hidden": ${job}
  "with blank": ${job}
  status: ${job}
  ok-name_1.example: ${job}
`;
  const unsafe = 'not a safe directory name; use letters, digits, "_", "-", ".", "+", "@", not starting with "."';
  assert.deepEqual(validate(text).errors, [
    `${FILE}: job "..": ${unsafe}`,
    `${FILE}: job "a/b": ${unsafe}`,
    `${FILE}: job ".hidden": ${unsafe}`,
    `${FILE}: job "with blank": ${unsafe}`,
    `${FILE}: job "status": its job directory would be the status file /b/status; rename the job or set status-file`,
  ]);
});

test('jobs: missing or unknown keys, sources checked by their type, schedule names suggested', () => {
  const text = `
schedules: {default: {daily: {interval: 1d, keep: 1}}}
jobs:
  a: {schedule: defualt, source: {type: file, filename: /x}}
  b: {schedule: default}
  c: {schedule: default, source: {type: file}, retention: 3}
  d: {source: {type: floppy}}
  e: {schedule: default, source: /dev/vdb}
job: {}
`;
  assert.deepEqual(validate(text).errors, [
    `${FILE}: unknown section "job" (did you mean "jobs"?); expected global (or config), schedules, jobs`,
    `${FILE}: job "a": schedule: "defualt" is not a defined schedule (defined schedules: default; did you mean "default"?)`,
    `${FILE}: job "b": source: missing: expected the source's "type" and its parameters`,
    `${FILE}: job "c": unknown key "retention"; expected schedule, source, store`,
    `${FILE}: job "d": schedule: expected the name of a schedule defined under "schedules"`,
    `${FILE}: job "e": source: expected a mapping with "type" and the source's parameters`,
  ]);
});

test('source problems are listed under the job once its own keys are valid', () => {
  const text = `
schedules: {default: {daily: {interval: 1d, keep: 1}}}
jobs:
  c: {schedule: default, source: {type: file}}
  d: {schedule: default, source: {type: floppy}}
`;
  assert.deepEqual(validate(text).errors, [
    `${FILE}: job "c": source.filename: expected the path of the source file`,
    `${FILE}: job "d": source.type: unknown source type "floppy"; known types: file, ceph-rbd, flyingcircus`,
  ]);
});

test('warnings: unused schedules, no jobs; an empty file is an error', () => {
  const { errors, warnings, config } = validate('schedules: {s: {daily: {interval: 1d, keep: 1}}}\njobs:\n');
  assert.deepEqual(errors, []);
  assert.ok(config);
  assert.deepEqual(warnings, [
    `${FILE}: schedule "s" is not used by any job`,
    `${FILE}: no jobs are defined; the scheduler has nothing to do`,
  ]);
  assert.deepEqual(validateConfig(null, FILE).errors, [
    `${FILE}: the file is empty; expected the sections "global", "schedules" and "jobs"`,
  ]);
  assert.deepEqual(validateConfig(['a'], FILE).errors, [`${FILE}: expected a mapping with the sections "global", "schedules" and "jobs"`]);
});

test('scrub-interval: a duration as the schedules write them, 30d by default; 0 turns scrubbing off', () => {
  const config = (global: string) => validate(`global: {${global}}\njobs: {}\n`);
  assert.equal(config('').config?.scrubIntervalSeconds, 30 * 86400);
  assert.equal(config('scrub-interval: 2w').config?.scrubIntervalSeconds, 14 * 86400);
  assert.equal(config('scrub-interval: 10s').config?.scrubIntervalSeconds, 10);
  assert.equal(config('scrub-interval: 0').config?.scrubIntervalSeconds, null);
  assert.equal(config('scrub-interval: 0d').config?.scrubIntervalSeconds, null);
  const expected = 'expected a duration with one of the suffixes s, m, h, d, w (e.g. 30d), or 0 to turn scrubbing off';
  assert.deepEqual(config('scrub-interval: 30').errors, [`${FILE}: global: scrub-interval: 30 has no unit (e.g. 30d): ${expected}`]);
  assert.deepEqual(config('scrub-interval: monthly').errors, [`${FILE}: global: scrub-interval: "monthly" is not a duration: ${expected}`]);
  assert.deepEqual(config('scrub-interval: -1d').errors, [`${FILE}: global: scrub-interval: "-1d" is not a duration: ${expected}`]);
});

test('the HTTP server: on 127.0.0.1 and ::1 port 6024 by default, off with port 0 or no addresses; the hook waits 60 s by default', () => {
  const config = (global: string) => validate(`global: {${global}}\njobs: {}\n`);
  const defaults = config('').config!;
  assert.deepEqual([defaults.httpAddresses, defaults.httpPort, defaults.apiTokensFile, defaults.completionHook], [['127.0.0.1', '::1'], 6024, null, null]);
  assert.deepEqual(config('http-addrs: ""').config?.httpAddresses, []);
  assert.deepEqual(config('http-addrs: "10.0.0.1, ::1"').config?.httpAddresses, ['10.0.0.1', '::1']);
  assert.equal(config('http-port: 0').config?.httpPort, 0);
  assert.deepEqual(config('http-port: 70000').errors, [`${FILE}: global: http-port: expected a port number from 0 (off) to 65535`]);
  assert.deepEqual(config('api-tokens: tokens').errors, [`${FILE}: global: api-tokens: expected the token file as an absolute path (e.g. /etc/backy/api-tokens)`]);
  assert.deepEqual(config('backup-completed-callback: hook.sh').errors, [
    `${FILE}: global: backup-completed-callback: expected the program to run after each backup as an absolute path (e.g. /usr/local/bin/backup-completed)`,
  ]);
  assert.equal(config('api-tokens: /etc/backy/tokens').config?.apiTokensFile, '/etc/backy/tokens');
  assert.deepEqual(config('backup-completed-callback: /usr/local/bin/hook').config?.completionHook, { program: '/usr/local/bin/hook', timeoutSeconds: 60 });
  assert.deepEqual(config('backup-completed-callback: /usr/local/bin/hook, callback-timeout: 5').config?.completionHook, { program: '/usr/local/bin/hook', timeoutSeconds: 5 });
});
