'use strict';
// Imports supplier catalogues sent as XML.
const libxmljs = require('libxmljs');

function parseCatalogue(xmlText) {
  const doc = libxmljs.parseXml(xmlText, { noent: true, nonet: false });
  const items = doc.find('//item');
  return items.map((item) => ({
    sku: item.attr('sku') && item.attr('sku').value(),
    name: item.get('name') ? item.get('name').text() : '',
    price: Number(item.get('price') ? item.get('price').text() : 'NaN'),
  }));
}

async function importCatalogue(req, res) {
  let items;
  try {
    items = parseCatalogue(req.body.toString('utf8'));
  } catch (e) {
    return res.status(400).json({ error: 'invalid XML' });
  }
  const valid = items.filter((i) => i.sku && Number.isFinite(i.price));
  res.json({ imported: valid.length, skipped: items.length - valid.length });
}

module.exports = { parseCatalogue, importCatalogue };
