import { afterAll } from 'vitest';
import { releaseServices } from './service.js';

// Every test file ends with no service process running and no data directory of one left,
// whether its tests passed or not.
afterAll(() => releaseServices());
