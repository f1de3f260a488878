package text

import (
	"strings"
	"testing"
	"unicode"
)

// Slug turns a title into a lowercase, dash-separated URL segment.
func Slug(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(title) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
			dash = false
		case b.Len() > 0 && !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

func TestSlug(t *testing.T) {
	cases := map[string]string{
		"Hello, World!":        "hello-world",
		"  Go 1.22 released ": "go-1-22-released",
		"---":                  "",
	}
	for in, want := range cases {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}
