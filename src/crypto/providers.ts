/**
 * Provider selection. Commands use `defaultProvider()` (node:crypto, with native PQ where the
 * runtime has it); tests and benchmarks ask for a provider by name to compare the two.
 */
import { InputError } from '../errors.js';
import type { CryptoProvider } from './provider.js';
import { nobleProvider } from './provider-noble.js';
import { nodeProvider } from './provider-node.js';

export type ProviderName = 'noble' | 'node';

export function defaultProvider(): CryptoProvider {
  return nodeProvider;
}

export function getProvider(name: ProviderName): CryptoProvider {
  switch (name) {
    case 'noble':
      return nobleProvider;
    case 'node':
      return nodeProvider;
    default:
      throw new InputError('UNKNOWN_PROVIDER', `unknown crypto provider ${JSON.stringify(name)}`, {
        hint: 'use noble or node',
      });
  }
}
