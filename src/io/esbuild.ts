/**
 * esbuild, an optional dependency loaded only when something is bundled (`ima-qs package`, the
 * browser page): a clear precondition error when it is missing.
 */
import { PreconditionError } from '../errors.js';

export type Esbuild = typeof import('esbuild');

export async function loadEsbuild(): Promise<Esbuild> {
  try {
    return await import('esbuild');
  } catch (err) {
    throw new PreconditionError('ESBUILD_MISSING', 'esbuild is not installed, so ima-qs cannot bundle', {
      hint: 'install ima-qs with its dependencies (npm install ima-qs; not --omit or a copied dist/), or: npm install esbuild@0.28.2',
      cause: err,
    });
  }
}
