package git

import (
	"errors"
	"strings"

	"github.com/synchroniser/synchroniser/internal/command"
)

// Sentinel kinds of failure, matched with errors.Is on the *Error a Runner
// returns. They tell the caller whether to report the request as bad, give
// up, or retry.
var (
	// ErrNonFastForward: the remote refused an update that is not a
	// fast-forward (or a tag that already exists). Not retryable without Force.
	ErrNonFastForward = errors.New("rejected: not a fast-forward")
	// ErrRemoteRejected: the remote refused the update itself (a hook, a
	// protected branch). Not retryable.
	ErrRemoteRejected = errors.New("rejected by the remote")
	// ErrStaleRef: a ref did not have its expected old value.
	ErrStaleRef = errors.New("ref changed concurrently")
	// ErrAuth: the remote refused the credentials, or none were given, or
	// the SSH host key is unknown. Not retryable.
	ErrAuth = errors.New("authentication failed")
	// ErrNotFound: the remote repository does not exist (or is hidden from
	// these credentials). Not retryable.
	ErrNotFound = errors.New("repository not found")
	// ErrRedirected: an HTTP remote given credentials answered with a
	// redirect, which is not followed so that the credentials go nowhere
	// else. The configured URL needs updating; not retryable.
	ErrRedirected = errors.New("remote redirects elsewhere (not followed with credentials)")
	// ErrNetwork: the remote could not be reached, the connection broke, it
	// answered with a server error, or the command timed out. Retryable.
	ErrNetwork = errors.New("network error")
	// ErrRemoteNotAllowed: the Runner refused a remote URL (scheme not
	// allowed, remote helper syntax, option-like host) or an argument before
	// running git.
	ErrRemoteNotAllowed = errors.New("remote not allowed")
)

// Error is a failed git command.
type Error struct {
	Op       string // git subcommand: "push", "fetch", "ls-remote", ...
	Remote   string // remote URL with credentials redacted; "" for local commands
	ExitCode int    // git's exit status; -1 if it did not exit normally or did not run
	Stderr   string // git's trimmed, bounded stderr with credentials redacted
	Kind     error  // one of the Err* sentinels, or nil when unclassified
	Err      error  // underlying error (exec, context), may be nil
	// Refs holds, for a push, each ref's outcome as git reported it.
	Refs []PushRef
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("git ")
	b.WriteString(e.Op)
	if e.Remote != "" {
		b.WriteString(" ")
		b.WriteString(e.Remote)
	}
	if e.Kind != nil {
		b.WriteString(": ")
		b.WriteString(e.Kind.Error())
	}
	if e.Err != nil && !errors.Is(e.Kind, e.Err) {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Stderr != "" {
		b.WriteString(": ")
		b.WriteString(strings.ReplaceAll(e.Stderr, "\n", "; "))
	}
	return b.String()
}

// Unwrap returns the kind and the underlying error.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Retryable reports whether err is worth retrying later: a network failure
// or timeout, or a ref that moved under a concurrent update.
func Retryable(err error) bool {
	return errors.Is(err, ErrNetwork) || errors.Is(err, ErrStaleRef)
}

// stderrPatterns map lower-cased fragments of git's (and its remote
// helpers' and servers') messages to kinds, most specific first.
var stderrPatterns = []struct {
	Fragment string
	Kind     error
}{
	{"stale info", ErrStaleRef},
	{"but expected", ErrStaleRef},
	{"reference already exists", ErrStaleRef},
	{"non-fast-forward", ErrNonFastForward},
	{"(fetch first)", ErrNonFastForward},
	{"updates were rejected because the tip of your current branch is behind", ErrNonFastForward},
	{"[remote rejected]", ErrRemoteRejected},
	{"authentication failed", ErrAuth},
	{"could not read username", ErrAuth},
	{"could not read password", ErrAuth},
	{"http basic: access denied", ErrAuth},
	{"permission denied", ErrAuth},
	{"host key verification failed", ErrAuth},
	{"no such identity", ErrAuth},
	{"invalid username or password", ErrAuth},
	{"the requested url returned error: 401", ErrAuth},
	{"the requested url returned error: 403", ErrAuth},
	{"write access to repository not granted", ErrAuth},
	{"the requested url returned error: 30", ErrRedirected},
	{"repository not found", ErrNotFound},
	{"not found", ErrNotFound}, // "repository 'https://…/' not found", "project … could not be found"
	{"does not appear to be a git repository", ErrNotFound},
	{"no such repository", ErrNotFound},
	{"the requested url returned error: 404", ErrNotFound},
	{"could not resolve host", ErrNetwork},
	{"could not resolve hostname", ErrNetwork},
	{"failed to connect", ErrNetwork},
	{"couldn't connect to server", ErrNetwork},
	{"connection refused", ErrNetwork},
	{"connection timed out", ErrNetwork},
	{"operation timed out", ErrNetwork},
	{"connection reset", ErrNetwork},
	{"network is unreachable", ErrNetwork},
	{"no route to host", ErrNetwork},
	{"the remote end hung up unexpectedly", ErrNetwork},
	{"early eof", ErrNetwork},
	{"rpc failed", ErrNetwork},
	{"gnutls", ErrNetwork},
	{"ssl_", ErrNetwork},
	{"ssl connect", ErrNetwork},
	{"tls connection", ErrNetwork},
	{"the requested url returned error: 5", ErrNetwork},
	{"unexpected disconnect", ErrNetwork},
	{"broken pipe", ErrNetwork},
}

// classify works out the kind of a failure from the run's error (a
// timeout) and git's stderr.
func classify(runErr error, stderr string) error {
	return command.Classify(runErr, stderr, stderrPatterns, ErrNetwork, nil)
}
