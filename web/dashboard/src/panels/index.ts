// The dashboard's panels, in the order of their tabs. A panel is one module (see ../panel.ts):
// a new one is written beside these and added to this list.
import type { Panel } from '../panel.js';
import { completion } from './completion.js';
import { experiments } from './experiments.js';
import { overTime } from './over-time.js';
import { overrides } from './overrides.js';
import { overview } from './overview.js';

export const PANELS: readonly Panel[] = [overview, overTime, overrides, completion, experiments];
