/**
 * The input half of a line-mode telnet server (RFC 854), as a pure state
 * machine: bytes in, events out. Option negotiation is refused (every
 * WILL gets DONT, every DO gets WONT), so a client stays in its default
 * line-by-line mode with local echo; subnegotiations are skipped.
 */

export type TelnetEvent =
  /** A complete line, without its CR/LF, decoded as UTF-8. */
  | { type: 'line'; text: string }
  /** Ctrl-C (byte 0x03 or IAC IP): the current line was discarded. */
  | { type: 'interrupt' }
  /** Ctrl-D (byte 0x04 or IAC EOF) on an empty line: the client is done. */
  | { type: 'end' }
  /** A line longer than the limit ended; its bytes were discarded. */
  | { type: 'too-long'; limit: number }
  /** Bytes to send back (negotiation answers, AYT). */
  | { type: 'reply'; bytes: Buffer };

export const DEFAULT_MAX_LINE_BYTES = 4096;

const IAC = 255;
const DONT = 254;
const DO = 253;
const WONT = 252;
const WILL = 251;
const SB = 250;
const EL = 248;
const EC = 247;
const AYT = 246;
const IP = 244;
const SE = 240;
const EOF = 236;

const NUL = 0x00;
const CTRL_C = 0x03;
const CTRL_D = 0x04;
const BACKSPACE = 0x08;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const DEL = 0x7f;

type State = 'data' | 'iac' | 'option' | 'subnegotiation' | 'subnegotiation-iac';

export class TelnetLineDecoder {
  private state: State = 'data';
  private verb = 0;
  private line: number[] = [];
  private overflow = false;
  /** A CR ended the last line: a following LF or NUL belongs to it. */
  private afterCR = false;

  constructor(private readonly maxLineBytes = DEFAULT_MAX_LINE_BYTES) {}

  push(chunk: Uint8Array): TelnetEvent[] {
    const events: TelnetEvent[] = [];
    for (const byte of chunk) this.byte(byte, events);
    return events;
  }

  private byte(byte: number, events: TelnetEvent[]): void {
    switch (this.state) {
      case 'data':
        if (byte === IAC) this.state = 'iac';
        else this.data(byte, events);
        return;
      case 'iac':
        this.state = 'data';
        this.command(byte, events);
        return;
      case 'option':
        this.state = 'data';
        // Refuse whatever is offered or asked; WONT and DONT need no answer.
        if (this.verb === WILL) events.push({ type: 'reply', bytes: Buffer.from([IAC, DONT, byte]) });
        if (this.verb === DO) events.push({ type: 'reply', bytes: Buffer.from([IAC, WONT, byte]) });
        return;
      case 'subnegotiation':
        if (byte === IAC) this.state = 'subnegotiation-iac';
        return;
      case 'subnegotiation-iac':
        this.state = byte === SE ? 'data' : 'subnegotiation';
        return;
    }
  }

  private command(byte: number, events: TelnetEvent[]): void {
    switch (byte) {
      case IAC: // an escaped 0xff data byte
        this.data(byte, events);
        return;
      case WILL:
      case WONT:
      case DO:
      case DONT:
        this.verb = byte;
        this.state = 'option';
        return;
      case SB:
        this.state = 'subnegotiation';
        return;
      case IP:
        this.interrupt(events);
        return;
      case EOF:
        this.endOfInput(events);
        return;
      case EC:
        this.erase();
        return;
      case EL:
        this.reset();
        return;
      case AYT:
        events.push({ type: 'reply', bytes: Buffer.from('\r\n[yes]\r\n') });
        return;
      default: // NOP, DM, BRK, AO, GA, a stray SE: nothing to do in line mode
        return;
    }
  }

  private data(byte: number, events: TelnetEvent[]): void {
    const afterCR = this.afterCR;
    this.afterCR = false;
    switch (byte) {
      case CR:
        this.afterCR = true;
        this.endLine(events);
        return;
      case LF:
        if (!afterCR) this.endLine(events);
        return;
      case NUL:
        return;
      case CTRL_C:
        this.interrupt(events);
        return;
      case CTRL_D:
        this.endOfInput(events);
        return;
      case BACKSPACE:
      case DEL:
        this.erase();
        return;
    }
    if (byte < 0x20 && byte !== TAB) return; // other control characters mean nothing here
    if (this.line.length >= this.maxLineBytes) this.overflow = true;
    else this.line.push(byte);
  }

  private endLine(events: TelnetEvent[]): void {
    if (this.overflow) events.push({ type: 'too-long', limit: this.maxLineBytes });
    else events.push({ type: 'line', text: Buffer.from(this.line).toString('utf8') });
    this.reset();
  }

  private interrupt(events: TelnetEvent[]): void {
    this.reset();
    events.push({ type: 'interrupt' });
  }

  /** Like a terminal: Ctrl-D ends the input only on an empty line. */
  private endOfInput(events: TelnetEvent[]): void {
    if (this.line.length === 0 && !this.overflow) events.push({ type: 'end' });
  }

  /** Removes the last character, all bytes of it when it is multi-byte UTF-8. */
  private erase(): void {
    if (this.overflow) return;
    while (this.line.length > 0 && (this.line[this.line.length - 1] & 0xc0) === 0x80) this.line.pop();
    this.line.pop();
  }

  private reset(): void {
    this.line = [];
    this.overflow = false;
  }
}
