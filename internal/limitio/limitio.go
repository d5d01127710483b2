// Package limitio bounds what is read and what is quoted. ReadAll reads a
// whole stream with an upper bound on its size: the one place that gets
// the "limit + 1" read and the comparison right for secret files, wire
// protocol answers and bundle parts. Clip bounds the untrusted text (a
// header, a server's line, a name from a file) that an error message
// quotes.
package limitio

import (
	"fmt"
	"io"
	"unicode/utf8"
)

// Clip returns s when it has at most n bytes, else its first n bytes or
// fewer, cut where a UTF-8 sequence starts, followed by "...".
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n = max(n, 0)
	for i := n; i > max(n-utf8.UTFMax, 0); i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "..."
		}
	}
	return s[:n] + "..."
}

// TooLargeError is ReadAll's error for a stream longer than its limit.
type TooLargeError struct {
	Limit int64
}

func (e *TooLargeError) Error() string { return fmt.Sprintf("exceeds %d bytes", e.Limit) }

// ReadAll reads r to its end, reading at most limit+1 bytes; a stream with
// more than limit bytes is a *TooLargeError, and a read error is returned
// as it is.
func ReadAll(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, &TooLargeError{Limit: limit}
	}
	return b, nil
}
