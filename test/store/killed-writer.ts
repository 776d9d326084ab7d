/**
 * A store writer that is killed mid-write (by the conformance suite):
 * writes part of a revision, says so on stdout and waits to be killed.
 */
import { randomBytes } from 'node:crypto';
import { alignedBuffer } from '../../src/io/native-io.js';
import { openStore } from '../../src/store/registry.js';
import { silentLogger } from '../../src/util/logger.js';

const [storeName, jobPath, id] = process.argv.slice(2);
// The test runner runs every file under test/ once without arguments.
if (!storeName || !jobPath || !id) process.exit(0);
const writer = await openStore(storeName, jobPath).create(id, null, silentLogger);
await writer.resize(16 * 1024 * 1024);
const data = alignedBuffer(4 * 1024 * 1024);
randomBytes(data.length).copy(data);
await writer.write(0, data);
process.stdout.write('written\n');
setInterval(() => undefined, 1000);
