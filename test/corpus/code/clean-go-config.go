package config

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// Config is read from the environment at start-up.
type Config struct {
	Addr         string
	DatabaseURL  string
	ReadTimeout  time.Duration
	MaxBodyBytes int64
}

func getenv(key, fallback string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return fallback
}

// Load validates every value and names the variable in its error.
func Load() (Config, error) {
	c := Config{Addr: getenv("ADDR", ":8080"), DatabaseURL: os.Getenv("DATABASE_URL")}
	if c.DatabaseURL == "" {
		return c, fmt.Errorf("DATABASE_URL is required")
	}
	rt, err := time.ParseDuration(getenv("READ_TIMEOUT", "10s"))
	if err != nil || rt <= 0 {
		return c, fmt.Errorf("READ_TIMEOUT: want a positive duration such as 10s")
	}
	c.ReadTimeout = rt
	mb, err := strconv.ParseInt(getenv("MAX_BODY_BYTES", "1048576"), 10, 64)
	if err != nil || mb < 1024 {
		return c, fmt.Errorf("MAX_BODY_BYTES: want an integer of at least 1024")
	}
	c.MaxBodyBytes = mb
	return c, nil
}
