package limitio

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadAll(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int64
		want  string
		err   string // "" for none
	}{
		{"", 0, "", ""},
		{"abc", 3, "abc", ""},
		{"abc", 4, "abc", ""},
		{"abcd", 3, "", "exceeds 3 bytes"},
		{"a", 0, "", "exceeds 0 bytes"},
	} {
		got, err := ReadAll(strings.NewReader(tc.in), tc.limit)
		var tl *TooLargeError
		if string(got) != tc.want || (err == nil) != (tc.err == "") || err != nil && (err.Error() != tc.err || !errors.As(err, &tl) || tl.Limit != tc.limit) {
			t.Errorf("ReadAll(%q, %d) = %q, %v; want %q, %q", tc.in, tc.limit, got, err, tc.want, tc.err)
		}
	}
}

// TestReadAllBounded: an endless stream is read no further than limit+1.
func TestReadAllBounded(t *testing.T) {
	var n countingReader
	if _, err := ReadAll(&n, 1<<20); err == nil {
		t.Fatal("endless stream: no error")
	}
	if n != 1<<20+1 {
		t.Errorf("read %d bytes of an endless stream, want %d", n, 1<<20+1)
	}
}

// TestReadAllError: a read error is returned as it is, not taken for the end.
func TestReadAllError(t *testing.T) {
	boom := errors.New("boom")
	if _, err := ReadAll(io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(boom)), 10); !errors.Is(err, boom) {
		t.Errorf("read error: %v, want boom", err)
	}
}

// countingReader is an endless stream that counts the bytes read from it.
type countingReader int64

func (c *countingReader) Read(p []byte) (int, error) {
	*c += countingReader(len(p))
	return len(p), nil
}

// TestClip: short text is kept, long text is cut to n bytes or fewer (never
// inside a UTF-8 sequence) and marked.
func TestClip(t *testing.T) {
	t.Parallel()
	const s = "caf\u00e9 au lait" // é is 2 bytes, at 3 and 4
	for n, want := range []string{"...", "c...", "ca...", "caf...", "caf...", "caf\u00e9..."} {
		if got := Clip(s, n); got != want {
			t.Errorf("Clip(%q, %d) = %q, want %q", s, n, got, want)
		}
	}
	if got := Clip(s, len(s)); got != s {
		t.Errorf("Clip at its length: %q", got)
	}
	if got := Clip(s, -1); got != "..." {
		t.Errorf("Clip(s, -1) = %q", got)
	}
}
