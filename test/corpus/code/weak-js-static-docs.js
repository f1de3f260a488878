'use strict';
// Serves the product manuals (PDF) to logged-in customers.
const express = require('express');
const fs = require('fs');
const path = require('path');

const router = express.Router();
const MANUALS = path.join(__dirname, '..', 'manuals');

function requireLogin(req, res, next) {
  if (!req.session || !req.session.user) return res.status(401).end();
  next();
}

router.get('/manuals/:file', requireLogin, (req, res) => {
  const filePath = path.join(MANUALS, req.params.file);
  fs.readFile(filePath, (err, data) => {
    if (err) {
      res.status(404).json({ error: 'no such manual' });
      return;
    }
    res.type('application/pdf').send(data);
  });
});

router.get('/manuals', requireLogin, (req, res) => {
  fs.readdir(MANUALS, (err, names) => {
    if (err) return res.status(500).end();
    res.json(names.filter((n) => n.endsWith('.pdf')));
  });
});

module.exports = router;
