import type { Socket } from 'node:net';
import type { SchedulerView } from '../../scheduler/status-model.js';
import type { Logger } from '../../util/logger.js';
import { runCommand } from './commands.js';
import { TelnetLineDecoder } from './line-decoder.js';

export interface SessionOptions {
  prompt: string;
  logger: Logger;
  now: () => Date;
}

/**
 * One telnet client: prompt, read a line, answer, prompt again, until
 * `quit`, Ctrl-D or the client goes away. Nothing a client sends ends
 * anything but its own session.
 */
export function serveSession(socket: Socket, view: SchedulerView, options: SessionOptions): void {
  const decoder = new TelnetLineDecoder();
  const peer = `${socket.remoteAddress}:${socket.remotePort}`;
  let closing = false;

  // NVT text: lines end in CRLF. A client that does not read pauses our reading, not the scheduler.
  const send = (data: string | Buffer): void => {
    if (closing || !socket.writable) return;
    const bytes = typeof data === 'string' ? data.replace(/\r?\n/g, '\r\n') : data;
    if (!socket.write(bytes)) socket.pause();
  };
  const finish = (): void => {
    closing = true;
    socket.end();
  };

  socket.setNoDelay(true);
  socket.on('drain', () => socket.resume());
  socket.on('error', (err) => options.logger.debug(`telnet: session ${peer}: ${err.message}`));
  socket.on('close', () => options.logger.debug(`telnet: session ${peer} closed`));
  socket.on('data', (chunk: Buffer) => {
    for (const event of decoder.push(chunk)) {
      if (closing) return;
      switch (event.type) {
        case 'reply':
          send(event.bytes);
          break;
        case 'line': {
          const outcome = answer(event.text);
          if (outcome.output.length > 0) send(`${outcome.output}\n`);
          if (outcome.close) finish();
          else send(options.prompt);
          break;
        }
        case 'interrupt':
          send(`\n${options.prompt}`);
          break;
        case 'too-long':
          send(`line too long (more than ${event.limit} bytes), ignored\n${options.prompt}`);
          break;
        case 'end':
          send('\n');
          finish();
          break;
      }
    }
  });

  const answer = (line: string): { output: string; close: boolean } => {
    try {
      return runCommand(line, view, options.now());
    } catch (err) {
      // A bug in the scheduler's view must not take the session (or the scheduler) down.
      const message = err instanceof Error ? err.message : String(err);
      options.logger.error(`telnet: command ${JSON.stringify(line)} failed: ${message}`);
      return { output: `internal error: ${message}`, close: false };
    }
  };

  options.logger.debug(`telnet: session from ${peer}`);
  send(options.prompt);
}
