import { join } from 'node:path';
import { ChunkedStore } from '../../src/store/chunked/chunked-store.js';
import { storeConformance } from './conformance.js';

storeConformance('chunked', (path) => new ChunkedStore(path, join(path, 'chunks')));
