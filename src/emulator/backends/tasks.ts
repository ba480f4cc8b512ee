import type { ClassScore, Detection, TextLine } from '../models.ts';

/**
 * What an emulated operation asks a backend for. One entry per task: its result type (TaskResult) and the output kinds a
 * spec may use for it (none: only an engine, backends/engines.ts, answers it). A new task is one more entry here, its
 * result type, and a backend that answers it; operations then name it in their `tasks`.
 */
export const tasks = {
  /** ImageNet-1k classes, best first (the answers group them with categories.ts). */
  classify: { outputs: ['classifier'] },
  /** COCO objects with ratio boxes. */
  objects: { outputs: ['detector'] },
  /** Faces with ratio boxes (and landmarks where the model gives them). */
  faces: { outputs: ['detector'] },
  /** Lines of text with their words, polygons as ratios: answered by engines only (OCR is more than one model). */
  text: { outputs: [] },
} as const satisfies Record<string, { outputs: readonly string[] }>;

export type Task = keyof typeof tasks;
export const taskNames = Object.keys(tasks) as [Task, ...Task[]];

export interface TaskResult {
  classify: ClassScore[];
  objects: Detection[];
  faces: Detection[];
  text: TextLine[];
}
