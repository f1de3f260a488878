/**
 * The page as the files a server answers GET with (the proxy handler's `page`, issue 16 §1):
 * `/` and `/index.html` (rendered with this server's configuration), `/app.js`, `/app.css`, each
 * with the page's security headers (src/web/html.ts). Pure: bytes and strings in, a map out.
 */
import { PAGE_FILES, pageHeaders, renderPageHtml, type PageConfig } from './html.js';

export interface ServedFile {
  body: string;
  headers: Record<string, string>;
}

/** Request path → file (the shape of the proxy's ProxyDeps.page). */
export type ServedPage = Record<string, ServedFile>;

export function servedPage(assets: { script: Uint8Array; style: Uint8Array }, cfg: PageConfig): ServedPage {
  const text = (b: Uint8Array) => new TextDecoder('utf-8').decode(b);
  const html: ServedFile = { body: renderPageHtml(cfg), headers: pageHeaders(cfg, 'text/html; charset=utf-8') };
  return {
    '/': html,
    [`/${PAGE_FILES.html}`]: html,
    [`/${PAGE_FILES.script}`]: { body: text(assets.script), headers: pageHeaders(cfg, 'text/javascript; charset=utf-8') },
    [`/${PAGE_FILES.style}`]: { body: text(assets.style), headers: pageHeaders(cfg, 'text/css; charset=utf-8') },
  };
}
