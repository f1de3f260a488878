'use strict';
// Thumbnail service: resizes uploaded images with ImageMagick.
const express = require('express');
const { exec } = require('child_process');
const path = require('path');

const app = express();
const UPLOADS = path.join(__dirname, 'uploads');
const SIZES = { small: '128x128', medium: '512x512' };

function resize(source, size) {
  return new Promise((resolve, reject) => {
    const target = source.replace(/\.(\w+)$/, `-${size}.$1`);
    exec(`convert ${source} -resize ${SIZES[size]} ${target}`, (err, stdout, stderr) => {
      if (err) return reject(new Error(stderr || err.message));
      resolve(target);
    });
  });
}

app.get('/thumb', async (req, res) => {
  const size = req.query.size in SIZES ? req.query.size : 'small';
  const image = req.query.image;
  if (!image) return res.status(400).json({ error: 'image is required' });
  try {
    const out = await resize(`${UPLOADS}/${image}`, size);
    res.sendFile(out);
  } catch (e) {
    res.status(500).json({ error: 'resize failed' });
  }
});

app.listen(3000, () => console.log('thumbnail service on :3000'));
