import { BackyError } from '../../util/errors.js';

/** What failed, for the message: `rbd snap create rbd/vm1@backy-…`. */
export interface RbdFailure {
  command: string;
  pool: string;
  image: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** A daemon-style log prefix: `2026-11-27T02:45:41.493+0000 7f5c0888f380  0 `. */
const LOG_PREFIX = /^\d{4}-\d\d-\d\dT\S+\s+[0-9a-f]+\s+-?\d+\s+/;

/** The lines of rbd's stderr that say something, without log prefixes and progress. */
function meaningfulLines(stderr: string): string[] {
  return stderr
    .split(/[\r\n]+/)
    .map((line) => line.replace(LOG_PREFIX, '').trim())
    .filter((line) => line.length > 0 && !/\d+% complete/.test(line) && !/^did not load config file/.test(line));
}

/** The most telling line: rbd's own `rbd: …` summary if there is one. */
export function summarizeStderr(stderr: string): string {
  const lines = meaningfulLines(stderr);
  const own = lines.filter((line) => line.startsWith('rbd: ') || /^error /.test(line));
  return (own.at(-1) ?? lines.at(-1) ?? '').replace(/^rbd: /, '');
}

/**
 * Turns a failed `rbd` run into one line a user can act on: a missing pool
 * or image, an unreachable cluster, refused credentials — each named as
 * such, followed by the command and what rbd said.
 */
export function describeRbdFailure(failure: RbdFailure): BackyError {
  const { pool, image, stderr } = failure;
  const said = summarizeStderr(stderr);
  const status = failure.signal ? `killed by ${failure.signal}` : `exit status ${failure.exitCode}`;
  const detail = `(${failure.command}: ${said || status})`;
  let message: string;
  if (/error opening pool '[^']*': \(2\)/.test(stderr)) {
    message = `Ceph pool "${pool}" does not exist ${detail}`;
  } else if (/error opening image [^:]*: \(2\)/.test(stderr)) {
    message = `Ceph image "${image}" does not exist in pool "${pool}" ${detail}`;
  } else if (failure.exitCode === 13 || /handle_auth_bad_method|unable to find a keyring|\((1|13)\) (Operation not permitted|Permission denied)/.test(stderr)) {
    message = `the Ceph cluster refused access: check the client name, its keyring and capabilities ${detail}`;
  } else if (/cannot identify monitors|unable to get monitor info/.test(stderr)) {
    message = `no Ceph monitors configured: set CEPH_CONF or create /etc/ceph/ceph.conf ${detail}`;
  } else if (/couldn't connect to the cluster|authenticate timed out|\(110\) Connection timed out|timed out/i.test(stderr) || failure.exitCode === 110) {
    const reason = meaningfulLines(stderr)
      .find((line) => /timed out/.test(line))
      ?.replace(/^monclient(\(\w+\))?: /, '');
    message =
      `cannot reach the Ceph cluster${reason ? ` (${reason})` : ''}: check CEPH_CONF/CEPH_ARGS and that the monitors are up ${detail}`;
  } else {
    message = `${failure.command} failed with ${status}: ${said || 'no message'}`;
  }
  return new BackyError(message);
}
