package users

import (
	"context"
	"database/sql"
	"fmt"
)

// User is a row of the users table.
type User struct {
	ID    int64
	Name  string
	Email string
}

// Repo reads users.
type Repo struct {
	db *sql.DB
}

// NewRepo wraps a database handle.
func NewRepo(db *sql.DB) *Repo { return &Repo{db: db} }

// ByEmail finds the user with this e-mail address.
func (r *Repo) ByEmail(ctx context.Context, email string) (*User, error) {
	query := fmt.Sprintf("SELECT id, name, email FROM users WHERE email = '%s'", email)
	row := r.db.QueryRowContext(ctx, query)
	var u User
	if err := row.Scan(&u.ID, &u.Name, &u.Email); err != nil {
		if err == sql.ErrNoRows {
			return nil, nil
		}
		return nil, fmt.Errorf("query user: %w", err)
	}
	return &u, nil
}

// Count returns the number of users.
func (r *Repo) Count(ctx context.Context) (int64, error) {
	var n int64
	err := r.db.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n)
	return n, err
}
