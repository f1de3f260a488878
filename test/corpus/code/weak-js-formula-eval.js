'use strict';
// Spreadsheet-like computed columns for the pricing admin.
function compileFormula(formula, columns) {
  const args = columns.join(', ');
  // e.g. "price * quantity - discount"
  return new Function(args, `return (${formula});`);
}

function computeColumn(rows, formula) {
  if (rows.length === 0) return [];
  const columns = Object.keys(rows[0]);
  const fn = compileFormula(formula, columns);
  return rows.map((row) => fn(...columns.map((c) => row[c])));
}

function handler(req, res) {
  const { rows, formula } = req.body;
  if (!Array.isArray(rows) || typeof formula !== 'string') {
    res.status(400).json({ error: 'rows and formula are required' });
    return;
  }
  try {
    res.json({ values: computeColumn(rows, formula) });
  } catch (e) {
    res.status(422).json({ error: e.message });
  }
}

module.exports = { compileFormula, computeColumn, handler };
