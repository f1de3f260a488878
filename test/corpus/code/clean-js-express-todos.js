'use strict';
// Todo list API backed by PostgreSQL.
const express = require('express');
const { Pool } = require('pg');

const pool = new Pool({ connectionString: process.env.DATABASE_URL });
const router = express.Router();

function parseTodo(body) {
  const title = typeof body.title === 'string' ? body.title.trim() : '';
  if (title.length === 0 || title.length > 200) return { error: 'title must be 1-200 characters' };
  const due = body.due ? new Date(body.due) : null;
  if (due && Number.isNaN(due.getTime())) return { error: 'due is not a date' };
  return { title, due };
}

router.get('/todos', async (req, res, next) => {
  try {
    const owner = req.user.id;
    const { rows } = await pool.query('SELECT id, title, due, done FROM todos WHERE owner = $1 ORDER BY due NULLS LAST', [owner]);
    res.json(rows);
  } catch (err) {
    next(err);
  }
});

router.post('/todos', async (req, res, next) => {
  const todo = parseTodo(req.body);
  if (todo.error) return res.status(400).json({ error: todo.error });
  try {
    const { rows } = await pool.query(
      'INSERT INTO todos (owner, title, due) VALUES ($1, $2, $3) RETURNING id',
      [req.user.id, todo.title, todo.due],
    );
    res.status(201).json({ id: rows[0].id });
  } catch (err) {
    next(err);
  }
});

router.patch('/todos/:id/done', async (req, res, next) => {
  const id = Number.parseInt(req.params.id, 10);
  if (!Number.isSafeInteger(id)) return res.status(400).json({ error: 'bad id' });
  try {
    const result = await pool.query('UPDATE todos SET done = true WHERE id = $1 AND owner = $2', [id, req.user.id]);
    res.status(result.rowCount === 1 ? 204 : 404).end();
  } catch (err) {
    next(err);
  }
});

module.exports = router;
