import type { Socket } from 'node:net';
import {
  ALLOCATION_CONTEXT_ID,
  BASE_ALLOCATION,
  CLIENT_FLAGS_KNOWN,
  FLAG_FIXED_NEWSTYLE,
  FLAG_NO_ZEROES,
  IHAVEOPT,
  INFO_BLOCK_SIZE,
  INFO_DESCRIPTION,
  INFO_EXPORT,
  INFO_NAME,
  MAX_STRING,
  NBD_MAGIC,
  Option,
  OPTION_REPLY_MAGIC,
  REP_ACK,
  REP_ERR_INVALID,
  REP_ERR_SHUTDOWN,
  REP_ERR_UNKNOWN,
  REP_ERR_UNSUP,
  REP_INFO,
  REP_META_CONTEXT,
  REP_SERVER,
} from './protocol.js';
import { drained } from './replies.js';
import type { WireReader } from './wire-reader.js';

/** What the handshake tells a client about the one export. */
export interface ExportDescription {
  /** The export's name (the revision's ID); "", the default export, names it too. */
  name: string;
  description: string;
  size: number;
  transmissionFlags: number;
  minimumBlock: number;
  preferredBlock: number;
  maximumPayload: number;
}

/** What the client negotiated for the transmission phase. */
export interface Negotiated {
  structuredReplies: boolean;
  /** Whether `base:allocation` was selected (block status queries allowed). */
  allocationContext: boolean;
}

/** No option this server knows carries more; longer ones end the session. */
const MAX_OPTION_LENGTH = 64 * 1024;
/** Options one client may send before it is taken for a loop, not a client. */
const MAX_OPTIONS = 1024;
/**
 * Option replies queued on the socket before the next option waits for
 * the client to read them: a client that sends options and never reads
 * the replies would have them all pile up in memory.
 */
const QUEUED_REPLIES = 64 * 1024;
/** What an error reply echoes of a name the client sent, escaped. */
const ECHOED = 64;

/** A client that broke the protocol: the session ends without a reply. */
export class ProtocolViolation extends Error {}

/**
 * The fixed newstyle handshake, server side, up to the transmission phase:
 * null when the client aborted. Every length the client sends is checked
 * against what the option can hold before anything is read on its word.
 */
export async function negotiate(
  socket: Socket,
  reader: WireReader,
  description: ExportDescription,
  shuttingDown: () => boolean,
): Promise<Negotiated | null> {
  const greeting = Buffer.alloc(18);
  greeting.writeBigUInt64BE(NBD_MAGIC, 0);
  greeting.writeBigUInt64BE(IHAVEOPT, 8);
  greeting.writeUInt16BE(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES, 16);
  socket.write(greeting);
  const clientFlags = await reader.u32();
  if ((clientFlags & ~CLIENT_FLAGS_KNOWN) !== 0) throw new ProtocolViolation(`unknown client flags 0x${clientFlags.toString(16)}`);
  const noZeroes = (clientFlags & FLAG_NO_ZEROES) !== 0;
  const state: Negotiated = { structuredReplies: false, allocationContext: false };

  for (let count = 0; count < MAX_OPTIONS; count++) {
    await drained(socket, QUEUED_REPLIES);
    const header = await reader.read(16);
    if (header.readBigUInt64BE(0) !== IHAVEOPT) throw new ProtocolViolation('an option without its magic number');
    const option = header.readUInt32BE(8);
    const length = header.readUInt32BE(12);
    if (length > MAX_OPTION_LENGTH) throw new ProtocolViolation(`option ${option} claims ${length} bytes of data`);
    const data = await reader.read(length);
    const reply = (type: number, payload: Buffer = Buffer.alloc(0)) => writeOptionReply(socket, option, type, payload);
    const error = (type: number, message: string) => reply(type, Buffer.from(message));

    if (option === Option.Abort) {
      reply(REP_ACK);
      return null;
    }
    if (shuttingDown()) {
      if (option === Option.ExportName) throw new ProtocolViolation('the server is shutting down');
      error(REP_ERR_SHUTDOWN, 'the server is shutting down');
      continue;
    }
    switch (option) {
      case Option.ExportName: {
        if (!knownName(data.toString('utf8'), description)) throw new ProtocolViolation(`unknown export ${quoted(data.toString('utf8'))}`);
        const answer = Buffer.alloc(noZeroes ? 10 : 134);
        answer.writeBigUInt64BE(BigInt(description.size), 0);
        answer.writeUInt16BE(description.transmissionFlags, 8);
        socket.write(answer);
        return state;
      }
      case Option.List:
        if (length !== 0) {
          error(REP_ERR_INVALID, 'NBD_OPT_LIST takes no data');
          break;
        }
        reply(REP_SERVER, Buffer.concat([u32(Buffer.byteLength(description.name)), Buffer.from(description.name)]));
        reply(REP_ACK);
        break;
      case Option.Info:
      case Option.Go: {
        const request = parseInfoRequest(data);
        if (!request) {
          error(REP_ERR_INVALID, 'malformed NBD_OPT_INFO/GO');
          break;
        }
        if (!knownName(request.name, description)) {
          error(REP_ERR_UNKNOWN, `no export named ${quoted(request.name)}; this server exports ${JSON.stringify(description.name)}`);
          break;
        }
        writeInfo(reply, description, request.infos);
        reply(REP_ACK);
        if (option === Option.Go) return state;
        break;
      }
      case Option.StructuredReply:
        if (length !== 0 || state.structuredReplies) {
          error(REP_ERR_INVALID, length !== 0 ? 'NBD_OPT_STRUCTURED_REPLY takes no data' : 'structured replies are negotiated already');
          break;
        }
        state.structuredReplies = true;
        reply(REP_ACK);
        break;
      case Option.ListMetaContext:
      case Option.SetMetaContext: {
        const setting = option === Option.SetMetaContext;
        if (setting) state.allocationContext = false;
        if (!state.structuredReplies) {
          error(REP_ERR_INVALID, 'negotiate structured replies first');
          break;
        }
        const request = parseMetaRequest(data);
        if (!request) {
          error(REP_ERR_INVALID, 'malformed meta context request');
          break;
        }
        if (!knownName(request.name, description)) {
          error(REP_ERR_UNKNOWN, `no export named ${quoted(request.name)}`);
          break;
        }
        const matches = setting
          ? request.queries.some((query) => query === BASE_ALLOCATION)
          : request.queries.length === 0 || request.queries.some((query) => query === 'base:' || query === BASE_ALLOCATION);
        if (matches) {
          reply(REP_META_CONTEXT, Buffer.concat([u32(setting ? ALLOCATION_CONTEXT_ID : 0), Buffer.from(BASE_ALLOCATION)]));
          if (setting) state.allocationContext = true;
        }
        reply(REP_ACK);
        break;
      }
      default:
        // STARTTLS included: this server runs without TLS (NOTLS mode).
        error(REP_ERR_UNSUP, `option ${option} is not supported`);
    }
  }
  throw new ProtocolViolation(`more than ${MAX_OPTIONS} options`);
}

function knownName(name: string, description: ExportDescription): boolean {
  return name === '' || name === description.name;
}

/**
 * A client's string as a message shows it: escaped to ASCII, and cut
 * short, so that a reply echoes at most ECHOED bytes of it however long
 * the string (a name of 4096 control characters escaped to 24 KiB).
 */
function quoted(text: string): string {
  let shown = '';
  for (const char of text) {
    const escaped = JSON.stringify(char)
      .slice(1, -1)
      .replace(/[\u007f-\uffff]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    if (shown.length + escaped.length > ECHOED - 5) return `"${shown}..."`;
    shown += escaped;
  }
  return `"${shown}"`;
}

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value, 0);
  return buffer;
}

function writeOptionReply(socket: Socket, option: number, type: number, payload: Buffer): void {
  const header = Buffer.alloc(20);
  header.writeBigUInt64BE(OPTION_REPLY_MAGIC, 0);
  header.writeUInt32BE(option, 8);
  header.writeUInt32BE(type, 12);
  header.writeUInt32BE(payload.length, 16);
  socket.write(payload.length > 0 ? Buffer.concat([header, payload]) : header);
}

function writeInfo(reply: (type: number, payload: Buffer) => void, description: ExportDescription, requested: number[]): void {
  const exportInfo = Buffer.alloc(12);
  exportInfo.writeUInt16BE(INFO_EXPORT, 0);
  exportInfo.writeBigUInt64BE(BigInt(description.size), 2);
  exportInfo.writeUInt16BE(description.transmissionFlags, 10);
  reply(REP_INFO, exportInfo);
  // Sent whether asked for or not: clients that did not ask may ignore it.
  const sizes = Buffer.alloc(14);
  sizes.writeUInt16BE(INFO_BLOCK_SIZE, 0);
  sizes.writeUInt32BE(description.minimumBlock, 2);
  sizes.writeUInt32BE(description.preferredBlock, 6);
  sizes.writeUInt32BE(description.maximumPayload, 10);
  reply(REP_INFO, sizes);
  const text = (type: number, value: string) => {
    const buffer = Buffer.alloc(2 + Buffer.byteLength(value));
    buffer.writeUInt16BE(type, 0);
    buffer.write(value, 2);
    reply(REP_INFO, buffer);
  };
  if (requested.includes(INFO_NAME)) text(INFO_NAME, description.name);
  if (requested.includes(INFO_DESCRIPTION)) text(INFO_DESCRIPTION, description.description);
}

/** NBD_OPT_INFO/GO data: u32 name length, name, u16 count, count × u16; null when the lengths do not add up. */
function parseInfoRequest(data: Buffer): { name: string; infos: number[] } | null {
  if (data.length < 6) return null;
  const nameLength = data.readUInt32BE(0);
  if (nameLength > MAX_STRING || nameLength > data.length - 6) return null;
  const name = data.toString('utf8', 4, 4 + nameLength);
  const count = data.readUInt16BE(4 + nameLength);
  if (data.length !== 6 + nameLength + 2 * count) return null;
  const infos: number[] = [];
  for (let i = 0; i < count; i++) infos.push(data.readUInt16BE(6 + nameLength + 2 * i));
  return { name, infos };
}

/** Meta context data: u32 name length, name, u32 count, count × (u32 length, query). */
function parseMetaRequest(data: Buffer): { name: string; queries: string[] } | null {
  if (data.length < 8) return null;
  const nameLength = data.readUInt32BE(0);
  if (nameLength > MAX_STRING || nameLength > data.length - 8) return null;
  const name = data.toString('utf8', 4, 4 + nameLength);
  let at = 4 + nameLength;
  const count = data.readUInt32BE(at);
  at += 4;
  // Each query takes at least its 4-byte length: a count beyond that is a lie.
  if (count > (data.length - at) / 4) return null;
  const queries: string[] = [];
  for (let i = 0; i < count; i++) {
    if (at + 4 > data.length) return null;
    const length = data.readUInt32BE(at);
    at += 4;
    if (length > MAX_STRING || at + length > data.length) return null;
    queries.push(data.toString('utf8', at, at + length));
    at += length;
  }
  return at === data.length ? { name, queries } : null;
}
