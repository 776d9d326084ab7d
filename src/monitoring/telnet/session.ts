import type { Socket } from 'node:net';
import type { SchedulerView } from '../../scheduler/status-model.js';
import type { Logger } from '../../util/logger.js';
import { runCommand, type CommandOutcome } from './commands.js';
import type { JobMatcher } from './job-matcher.js';
import { TelnetLineDecoder, type TelnetEvent } from './line-decoder.js';

export interface SessionOptions {
  prompt: string;
  logger: Logger;
  now: () => Date;
  /** A client that sends nothing for this long is told so and disconnected. */
  idleTimeoutMs: number;
  matcher: JobMatcher;
}

/** After the session ended, how long the client gets to close its side before the connection is dropped. */
const CLOSE_LINGER_MS = 10_000;

/**
 * One telnet client: prompt, read a line, answer, prompt again, until
 * `quit`, Ctrl-D or the client goes away. Nothing a client sends ends
 * anything but its own session, and no client holds up the scheduler: one
 * command runs per turn of the event loop (one at a time per session, also
 * when its answer takes a while, as `jobs REGEX` matching in its worker),
 * and reading stops while commands are waiting or the client is not
 * reading our answers.
 */
export function serveSession(socket: Socket, view: SchedulerView, options: SessionOptions): void {
  const decoder = new TelnetLineDecoder();
  const peer = `${socket.remoteAddress}:${socket.remotePort}`;
  let queue: TelnetEvent[] = [];
  let next = 0;
  let closing = false;
  let waitingForDrain = false;
  let scheduled = false;
  /** A command's answer is still being worked out. */
  let busy = false;

  // NVT text: lines end in CRLF.
  const send = (data: string | Buffer): void => {
    if (closing || !socket.writable) return;
    const bytes = typeof data === 'string' ? data.replace(/\r?\n/g, '\r\n') : data;
    if (!socket.write(bytes)) waitingForDrain = true;
  };
  const finish = (): void => {
    closing = true;
    socket.end();
    socket.setTimeout(CLOSE_LINGER_MS);
  };
  const schedule = (): void => {
    if (scheduled || closing) return;
    scheduled = true;
    setImmediate(pump);
  };

  /** Handles queued events; returns after each command so that others get their turn. */
  const pump = (): void => {
    scheduled = false;
    while (next < queue.length && !closing && !waitingForDrain && !busy) {
      const event = queue[next++];
      if (handle(event)) return;
    }
    if (next >= queue.length && !busy) {
      queue = [];
      next = 0;
      if (!closing && !waitingForDrain) socket.resume();
    }
  };

  /** True when the event started a command (the pump goes on once it is answered). */
  const handle = (event: TelnetEvent): boolean => {
    switch (event.type) {
      case 'reply':
        send(event.bytes);
        return false;
      case 'line': {
        busy = true;
        void answer(event.text).then((outcome) => {
          busy = false;
          if (outcome.output.length > 0) send(`${outcome.output}\n`);
          if (outcome.close) finish();
          else send(options.prompt);
          schedule();
        });
        return true;
      }
      case 'interrupt':
        send(`\n${options.prompt}`);
        return false;
      case 'too-long':
        send(`line too long (more than ${event.limit} bytes), ignored\n${options.prompt}`);
        return false;
      case 'end':
        send('\n');
        finish();
        return false;
    }
  };

  const answer = async (line: string): Promise<CommandOutcome> => {
    try {
      return await runCommand(line, { view, now: options.now(), matcher: options.matcher });
    } catch (err) {
      // A bug in the scheduler's view must not take the session (or the scheduler) down.
      const message = err instanceof Error ? err.message : String(err);
      options.logger.error(`telnet: command ${JSON.stringify(line)} failed: ${message}`);
      return { output: `internal error: ${message}`, close: false };
    }
  };

  socket.setNoDelay(true);
  socket.on('data', (chunk: Buffer) => {
    for (const event of decoder.push(chunk)) queue.push(event);
    socket.pause();
    schedule();
  });
  // The client sent all it will: what it sent is answered first, then the session ends as on Ctrl-D.
  socket.on('end', () => {
    queue.push({ type: 'end' });
    schedule();
  });
  socket.on('drain', () => {
    waitingForDrain = false;
    schedule();
  });
  socket.on('error', (err) => options.logger.debug(`telnet: session ${peer}: ${err.message}`));
  socket.setTimeout(options.idleTimeoutMs);
  socket.on('timeout', () => {
    if (closing) {
      socket.destroy();
      return;
    }
    options.logger.debug(`telnet: session ${peer} idle; closed`);
    send(`\nidle for ${Math.round(options.idleTimeoutMs / 1000)} s: session closed\n`);
    finish();
  });
  socket.on('close', () => {
    closing = true;
    queue = [];
    options.logger.debug(`telnet: session ${peer} closed`);
  });

  options.logger.debug(`telnet: session from ${peer}`);
  send(options.prompt);
}
