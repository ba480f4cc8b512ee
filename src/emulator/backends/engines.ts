import type { Backend } from './backend.ts';
import { loadPpocrBackend, PPOCR_BACKEND } from './ppocr.ts';
import type { LocatedSpec } from './spec.ts';
import type { Task } from './tasks.ts';

/**
 * Backends that are more than one ONNX file behind a spec (an OCR pipeline of detector, recogniser and angle
 * classifier, say): each is one entry in this list, by name and task, and every inference worker loads it beside the
 * spec'd models (workers import this module, so the entry belongs here, not pushed at run time). Operations bind them
 * by name like any other backend.
 */
export interface Engine {
  name: string;
  task: Task;
  load(modelDir: string, intraOpThreads: number): Promise<Backend>;
}

export const engines: Engine[] = [
  /** PaddleOCR PP-OCRv4 (detection + direction classifier + recognition), the text operations' backend. */
  { name: PPOCR_BACKEND, task: 'text', load: (_modelDir, intraOpThreads) => loadPpocrBackend(intraOpThreads) },
];

/** Every backend an operation may name: the specs' models and the engines. */
export type CatalogEntry = Pick<LocatedSpec, 'name' | 'task'>;

export const backendCatalog = (specs: readonly LocatedSpec[]): CatalogEntry[] => [
  ...specs.map(({ name, task }) => ({ name, task })),
  ...engines.map(({ name, task }) => ({ name, task })),
];
