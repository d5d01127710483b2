package mirror

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Class says who caused a failed sync and what to do about it.
type Class int

// Classes of errors. The zero value is Internal: an error nobody classified
// is a server fault.
const (
	// Internal is a server-side fault (hg or git missing, conversion failed):
	// HTTP 500, not retried.
	Internal Class = iota
	// BadRequest is caused by the request or the mirror's configuration
	// (unknown repository, not Mercurial, destination missing, divergence):
	// HTTP 400, not retried.
	BadRequest
	// Transient may go away by itself (network, timeouts, 5xx): HTTP 500,
	// retried with backoff.
	Transient
	// Permanent will not go away by retrying (authentication refused):
	// HTTP 500, not retried.
	Permanent
)

// String returns the class name in lower case ("bad-request", ...).
func (c Class) String() string {
	switch c {
	case Internal:
		return "internal"
	case BadRequest:
		return "bad-request"
	case Transient:
		return "transient"
	case Permanent:
		return "permanent"
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// HTTPStatus is the status a web handler answers for an error of class c:
// 400 for BadRequest, 500 otherwise.
func (c Class) HTTPStatus() int {
	if c == BadRequest {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// Retry reports whether a job failing with an error of class c should be
// retried: only Transient errors are.
func (c Class) Retry() bool { return c == Transient }

// Error is a failed step of a sync, classified.
type Error struct {
	Op    string // step that failed: "clone", "pull", "fetch", "convert", "ls-remote", "push", ...
	Err   error
	Class Class
}

// Error returns "Op: Err" (just Err when it already starts with "Op:").
func (e *Error) Error() string {
	msg := e.Err.Error()
	if e.Op == "" || strings.HasPrefix(msg, e.Op+":") {
		return msg
	}
	return e.Op + ": " + msg
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns the class of the first *Error in err's chain. A context
// deadline or cancellation outside any *Error is Transient; any other error is
// Internal.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return Transient
	}
	return Internal
}

// ErrDiverged is matched (errors.Is) by a *DivergedError.
var ErrDiverged = errors.New("diverged")

// DivergedError reports destination refs that are not ancestors of the new
// values and that no proven rewrite explains: moving them would lose
// commits. They were not pushed (the other refs were).
type DivergedError struct {
	Refs     []RefUpdate // Old = destination's value, New = the refused value
	Statuses []RefStatus // the same refs with the reason (Detail), when known
}

func (e *DivergedError) Error() string {
	if len(e.Statuses) == len(e.Refs) && len(e.Refs) > 0 {
		parts := make([]string, len(e.Statuses))
		for i, st := range e.Statuses {
			parts[i] = st.Ref
			if st.Detail != "" {
				parts[i] += ": " + st.Detail
			}
		}
		return "destination diverged: refused " + strings.Join(parts, "; ")
	}
	names := make([]string, len(e.Refs))
	for i, r := range e.Refs {
		names[i] = r.Ref
	}
	return fmt.Sprintf("destination diverged: refused %s (%s not an ancestor of the new value; set force to overwrite)",
		strings.Join(names, ", "), plural(len(names), "is", "are"))
}

// Is makes errors.Is(err, ErrDiverged) true.
func (e *DivergedError) Is(target error) bool { return target == ErrDiverged }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// errorf returns an *Error of class c for op.
func errorf(c Class, op, format string, args ...any) *Error {
	return &Error{Op: op, Class: c, Err: fmt.Errorf(format, args...)}
}
