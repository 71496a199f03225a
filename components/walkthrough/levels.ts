/** The built walkthroughs by level number; the catalog marks the others as coming. */
import { LEVEL_1 } from './level1.tsx';
import { LEVEL_2 } from './level2.tsx';
import { LEVEL_3 } from './level3.tsx';
import { LEVEL_4 } from './level4.tsx';
import { LEVEL_5 } from './level5.tsx';
import { LEVEL_6 } from './level6.tsx';
import type { LevelWalkthrough } from './model.ts';

export const WALKTHROUGHS: Readonly<Partial<Record<number, LevelWalkthrough>>> = {
  1: LEVEL_1,
  2: LEVEL_2,
  3: LEVEL_3,
  4: LEVEL_4,
  5: LEVEL_5,
  6: LEVEL_6,
};
