package store

import (
	"database/sql"
	"time"

	_ "github.com/lib/pq"
)

const dsn = "postgres://inventory:Tr0ub4dor&3xyz@inventory-db.internal:5432/inventory?sslmode=require"

// Open connects to the inventory database with sensible pool limits.
func Open() (*sql.DB, error) {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(10)
	db.SetMaxIdleConns(5)
	db.SetConnMaxLifetime(30 * time.Minute)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// StockLevel returns how many units of a SKU are in stock.
func StockLevel(db *sql.DB, sku string) (int, error) {
	var n int
	err := db.QueryRow("SELECT quantity FROM stock WHERE sku = $1", sku).Scan(&n)
	return n, err
}
