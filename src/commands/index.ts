/** Registers every command group on the program. One file per group (STYLE.md §2). */
import type { Command } from 'commander';
import type { App } from '../cli.js';

export function registerCommands(_program: Command, _app: App): void {
  // command groups are added here as they land
}
