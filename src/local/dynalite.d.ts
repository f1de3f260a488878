// dynalite 4 ships no types: the one call `local up` makes (SPEC §9: LevelDB under STATE/db).
declare module 'dynalite' {
  import type { Server } from 'node:http';
  export default function dynalite(opts?: { path?: string; createTableMs?: number; deleteTableMs?: number; updateTableMs?: number }): Server;
}
