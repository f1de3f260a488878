'use strict';
// Serves files from the public folder, refusing anything outside it.
const http = require('http');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, 'public');
const TYPES = { '.html': 'text/html', '.css': 'text/css', '.js': 'text/javascript', '.png': 'image/png' };

function resolveInside(root, urlPath) {
  const decoded = decodeURIComponent(urlPath.split('?')[0]);
  const target = path.resolve(root, '.' + path.posix.normalize('/' + decoded));
  if (target !== root && !target.startsWith(root + path.sep)) return null;
  return target;
}

const server = http.createServer((req, res) => {
  let target;
  try {
    target = resolveInside(ROOT, req.url === '/' ? '/index.html' : req.url);
  } catch (e) {
    target = null;
  }
  if (!target) {
    res.writeHead(400).end('bad path');
    return;
  }
  fs.readFile(target, (err, data) => {
    if (err) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(target)] || 'application/octet-stream' });
    res.end(data);
  });
});

server.listen(Number(process.env.PORT) || 8080);
