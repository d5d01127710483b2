package hg

import (
	"errors"
	"fmt"
	"strings"

	"github.com/synchroniser/synchroniser/internal/command"
)

// UnsupportedError reports a repository format this package cannot read,
// such as a requirement in .hg/requires (treemanifest, revlog-v2, narrow,
// lfs, ...).
type UnsupportedError struct {
	Requirement string // the requirement or feature, e.g. "treemanifest"
	Path        string // the file that named it, if known
}

func (e *UnsupportedError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("hg: unsupported repository format %q (in %s)", e.Requirement, e.Path)
	}
	return fmt.Sprintf("hg: unsupported repository format %q", e.Requirement)
}

// ErrCorrupt is wrapped by the errors of the revlog, changelog and manifest
// readers when the data does not follow the format (truncated, bad offsets,
// a delta that does not apply, a hash that does not match), and matched by
// an *Error of KindCorrupt: the repository, not the request, is at fault.
var ErrCorrupt = errors.New("hg: corrupt repository data")

// ErrRevisionRange is wrapped by the errors of a revlog asked for a
// revision it does not have.
var ErrRevisionRange = errors.New("hg: revision out of range")

// sentinelError is an error with its own message that also matches a
// sentinel (ErrCorrupt, ErrRevisionRange).
type sentinelError struct{ sentinel, err error }

func (e *sentinelError) Error() string   { return e.err.Error() }
func (e *sentinelError) Unwrap() []error { return []error{e.sentinel, e.err} }

// corruptf formats a format error that wraps ErrCorrupt.
func corruptf(format string, args ...any) error {
	return &sentinelError{ErrCorrupt, fmt.Errorf(format, args...)}
}

// rangeError is the error for a revision a revlog of n revisions lacks.
func rangeError(name string, rev, n int) error {
	return &sentinelError{ErrRevisionRange, fmt.Errorf("hg: read %s: revision %d out of range [0,%d)", name, rev, n)}
}

// Kind is what went wrong in a failed hg command, decided from hg's
// messages so that callers need not read them.
type Kind int

const (
	KindOther       Kind = iota // anything else (a bug, an odd answer)
	KindAuth                    // credentials refused or needed, an ssh key or host key refused
	KindNotFound                // no repository there (or not an hg one), a missing revision
	KindNetwork                 // unreachable, refused, reset, a server error, a timeout: retryable
	KindCorrupt                 // the local repository is damaged or mid-transaction
	KindUnsupported             // a repository format or feature this hg does not support
)

func (k Kind) String() string {
	switch k {
	case KindAuth:
		return "authentication failed"
	case KindNotFound:
		return "repository not found"
	case KindNetwork:
		return "network error"
	case KindCorrupt:
		return "repository corrupt"
	case KindUnsupported:
		return "unsupported repository format"
	}
	return "other"
}

// Error is a failed hg command.
type Error struct {
	Args     []string // arguments, credentials redacted
	Err      error    // the exec error (exit status, timeout, not found)
	Stderr   string   // the end of hg's stderr, trimmed and redacted
	ExitCode int      // hg's exit status; -1 when it did not exit by itself or did not run
	Kind     Kind
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("hg %s: %v", strings.Join(e.Args, " "), e.Err)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes an *Error of KindCorrupt match ErrCorrupt.
func (e *Error) Is(target error) bool { return target == ErrCorrupt && e.Kind == KindCorrupt }

// kindPatterns map lower-cased fragments of hg's messages (and of ssh's,
// which hg passes on as "remote: …") to kinds, in the order they are
// tried. hg quotes the page it got from a URL that is not a repository,
// which may say anything, so that case comes first; ssh's own reasons come
// before hg's "no suitable response", which follows all of them.
var kindPatterns = []struct {
	Fragment string
	Kind     Kind
}{
	{"does not appear to be an hg repository", KindNotFound},
	{"http error 401", KindAuth},
	{"http error 403", KindAuth},
	{"authorization failed", KindAuth},
	{"authorization required", KindAuth},
	{"permission denied (publickey", KindAuth},
	{"remote: permission denied", KindAuth},
	{"host key verification failed", KindAuth},
	{"no matching host key", KindAuth},
	{"too many authentication failures", KindAuth},
	{"abandoned transaction found", KindCorrupt},
	{"integrity check failed", KindCorrupt},
	{"unknown revlog", KindCorrupt},
	{"unknown version", KindCorrupt}, // "unknown version (N) in revlog NAME"
	{"unknown compression type", KindCorrupt},
	{"corrupt", KindCorrupt},
	{"no match found", KindCorrupt},
	{"unknown parent", KindCorrupt},
	{"censored node", KindCorrupt},
	{"index 00changelog", KindCorrupt},
	{"checksum mismatch", KindCorrupt},
	{"unexpected end", KindCorrupt},
	{"not a valid repository", KindCorrupt},
	{"requires features unknown", KindUnsupported},
	{"missing support for", KindUnsupported},
	{"not supported", KindUnsupported}, // "requirement '…' not supported"
	{"connection refused", KindNetwork},
	{"connection reset", KindNetwork},
	{"connection closed", KindNetwork},
	{"timed out", KindNetwork},
	{"name or service not known", KindNetwork},
	{"temporary failure in name resolution", KindNetwork},
	{"could not resolve", KindNetwork},
	{"network is unreachable", KindNetwork},
	{"no route to host", KindNetwork},
	{"http error 5", KindNetwork},
	{"http error 429", KindNetwork},
	{"broken pipe", KindNetwork},
	{"stream ended unexpectedly", KindNetwork},
	{"incomplete response", KindNetwork}, // "abort: HTTP request error (incomplete response)": the source died mid-transfer
	{"premature end", KindNetwork},
	{"urlopen error", KindNetwork},
	{"abort: error:", KindNetwork}, // a socket error: "abort: error: [Errno …]"
	{"no suitable response from remote hg", KindAuth},
	{"http error 404", KindNotFound},
	{"http error 410", KindNotFound},
	{"not found", KindNotFound}, // "repository … not found"
	{"unknown revision", KindNotFound},
	{"not a mercurial bundle", KindNotFound},
	{"no such file or directory", KindNotFound},
}

// kindOf decides the kind of a failure from the run's error and hg's stderr.
func kindOf(runErr error, stderr string) Kind {
	return command.Classify(runErr, stderr, kindPatterns, KindNetwork, KindOther)
}
