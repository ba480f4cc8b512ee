import { authenticate } from './authenticate.ts';
import { buffer } from './buffer.ts';
import { extract } from './extract.ts';
import { forward } from './forward.ts';
import { mapAnswer } from './map-answer.ts';
import { observe } from './observe.ts';
import { plan } from './plan.ts';
import { readAnswer } from './read-answer.ts';
import { rebuild } from './rebuild.ts';
import { record } from './record.ts';
import { respond } from './respond.ts';
import { route } from './route.ts';
import { shrink } from './shrink.ts';
import { sign } from './sign.ts';
import type { Step } from './steps.ts';

/**
 * A client's request, top to bottom. Pass-through routes skip what concerns images (each step's `when`); the steps
 * marked `improves` (extract ... rebuild) are skipped past the work deadline, and the client's bytes go; `respond`
 * and `observe` run even after a failure.
 */
export const clientPath: readonly Step[] = [
  route,
  buffer,
  authenticate,
  extract,
  plan,
  shrink,
  rebuild,
  sign,
  forward,
  readAnswer,
  mapAnswer,
  respond,
  observe,
  record,
];

/** A reference upload (feedback/loop.ts): the client's request with the reference images, sent and read the same way. */
export const referencePath: readonly Step[] = [rebuild, sign, forward, readAnswer];
