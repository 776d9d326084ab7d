import { CowStore } from '../../src/store/cow/cow-store.js';
import { storeConformance } from './conformance.js';

storeConformance('cow', (path) => new CowStore(path));
