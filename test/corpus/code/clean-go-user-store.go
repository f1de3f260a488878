package users

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound is returned when no user matches.
var ErrNotFound = errors.New("user not found")

// Store persists users in PostgreSQL.
type Store struct{ db *sql.DB }

// New returns a store over db.
func New(db *sql.DB) *Store { return &Store{db: db} }

// Create inserts a user and returns its id.
func (s *Store) Create(ctx context.Context, name, email string) (int64, error) {
	name = strings.TrimSpace(name)
	if name == "" || !strings.Contains(email, "@") {
		return 0, fmt.Errorf("invalid user %q <%s>", name, email)
	}
	var id int64
	err := s.db.QueryRowContext(ctx,
		"INSERT INTO users (name, email) VALUES ($1, $2) RETURNING id", name, strings.ToLower(email)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("insert user: %w", err)
	}
	return id, nil
}

// ByEmail finds a user by e-mail address.
func (s *Store) ByEmail(ctx context.Context, email string) (int64, string, error) {
	var id int64
	var name string
	err := s.db.QueryRowContext(ctx, "SELECT id, name FROM users WHERE email = $1", strings.ToLower(email)).Scan(&id, &name)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", ErrNotFound
	}
	return id, name, err
}
