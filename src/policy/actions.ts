import type { EncodeAction } from '../codec/types.ts';

/** The paper's action set: JPEG qualities 5, 15, ..., 95 (standard tables, 4:2:0). The one place it is defined. */
export const defaultActions: readonly EncodeAction[] = Object.freeze(
  Array.from({ length: 10 }, (_, i) => Object.freeze({ quality: 5 + 10 * i })),
);
