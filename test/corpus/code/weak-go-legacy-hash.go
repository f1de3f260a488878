package auth

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"errors"
)

// ErrBadCredentials is returned for any failed login.
var ErrBadCredentials = errors.New("bad credentials")

// Account is what the user table holds.
type Account struct {
	Login    string
	Salt     string
	Password string // hex digest
}

// HashPassword derives the stored digest of a password.
func HashPassword(password, salt string) string {
	sum := md5.Sum([]byte(salt + password))
	return hex.EncodeToString(sum[:])
}

// Verify checks a login attempt against the stored account.
func Verify(acc Account, attempt string) error {
	got := HashPassword(attempt, acc.Salt)
	if subtle.ConstantTimeCompare([]byte(got), []byte(acc.Password)) != 1 {
		return ErrBadCredentials
	}
	return nil
}
