package mirror

import (
	"context"
	"errors"
	"io/fs"
	"os/exec"
	"strings"

	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
)

// Where a failing command talked to: the classes of "not found" differ.
type side int

const (
	sourceSide side = iota
	destSide
)

// Phrases hg and git write to stderr, lower-cased, by class. The first
// list that matches wins, in the order classify checks them.
var (
	// The URL answered, with something that is not the repository.
	notRepoPhrases = []string{
		"does not appear to be an hg repository", "does not appear to be a git repository",
		"repository is unrelated",
	}
	// The program itself is missing or broken: a server fault.
	missingPhrases = []string{
		"executable file not found", "no such file or directory: 'hg'", "not installed",
	}
	// Credentials refused: retrying will not help.
	authPhrases = []string{
		"authentication failed", "authorization failed", "authorization required",
		"http error 401", "http error 403", "returned error: 401", "returned error: 403",
		"the requested url returned error: 401", "the requested url returned error: 403",
		"permission denied (publickey", "host key verification failed", "could not read username",
		"could not read password", "terminal prompts disabled", "access denied", "invalid credentials",
		"http basic: access denied", "permission to", "403 forbidden", "401 unauthorized",
		"no suitable response from remote hg", "remote: permission denied",
	}
	// The repository named by the request does not exist or is not one.
	notFoundPhrases = []string{
		"repository not found", "not found", "does not appear to be a git repository",
		"does not appear to be an hg repository", "not a git repository", "returned error: 404",
		"http error 404", "http error 410", "no such repository", "is not a valid repository",
		"unsupported url scheme", "invalid url", "repository is unrelated", "unknown revision",
		"no such file or directory", "not a mercurial bundle", "requires features unknown",
	}
	// The network or the remote's server failed: retry later.
	transientPhrases = []string{
		"could not resolve host", "name or service not known", "temporary failure in name resolution",
		"connection refused", "connection reset", "connection timed out", "timed out", "timeout",
		"failed to connect", "network is unreachable", "no route to host", "unable to access",
		"rpc failed", "early eof", "the remote end hung up", "http error 5", "returned error: 5",
		"502 bad gateway", "503 service unavailable", "504 gateway", "500 internal server error",
		"broken pipe", "error: [errno", "urlopen error", "remote: internal server error",
		"stream ended unexpectedly", "unexpected disconnect", "index-pack failed",
		"abort: error:", "premature end", "try again", "too many requests", "returned error: 429",
		"incomplete response", "intermittent network failure",
	}
)

// classify wraps err, from a command that talked to the source or the
// destination, in an *Error of the class its message says.
func classify(op string, s side, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Op: op, Class: classOfCommand(s, err), Err: err}
}

func classOfCommand(s side, err error) Class {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, hg.ErrNotInstalled) {
		return Internal
	}
	var ee *exec.Error
	if errors.As(err, &ee) {
		return Internal // the program could not be started
	}
	var ge *git.Error
	if errors.As(err, &ge) && ge.ExitCode == -1 && ge.Err != nil && ge.Kind == nil {
		var pe *fs.PathError
		if errors.As(ge.Err, &pe) && pe.Op == "fork/exec" {
			return Internal // git is not where the Runner says
		}
	}
	switch {
	case errors.Is(err, git.ErrAuth), errors.Is(err, git.ErrRemoteRejected):
		return Permanent
	case errors.Is(err, git.ErrNotFound), errors.Is(err, git.ErrRemoteNotAllowed):
		return BadRequest
	case errors.Is(err, git.ErrNetwork), errors.Is(err, git.ErrStaleRef):
		return Transient
	case errors.Is(err, git.ErrNonFastForward):
		// The destination moved between ls-remote and push: the next try
		// plans again (and reports divergence if that is what it is).
		return Transient
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return Transient
	}
	msg := strings.ToLower(errText(err))
	switch {
	case containsAny(msg, notRepoPhrases):
		return BadRequest // checked first: hg quotes the page it got, which may say anything
	case containsAny(msg, missingPhrases):
		return Internal
	case containsAny(msg, authPhrases):
		return Permanent
	case containsAny(msg, transientPhrases):
		return Transient
	case containsAny(msg, notFoundPhrases):
		return BadRequest
	}
	// Anything else a remote answered (a protocol error, a refused push) is
	// more likely lasting than not, but it is nobody's request's fault.
	if s == destSide {
		return Permanent
	}
	return Internal
}

func containsAny(s string, phrases []string) bool {
	for _, p := range phrases {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// corruptPhrases mark a local cache hg cannot use any more.
var corruptPhrases = []string{
	"abandoned transaction found", "corrupt", "integrity check failed", "no match found",
	"unknown parent", "censored node", "index 00changelog", "unexpected end", "checksum mismatch",
	"repository requires features unknown", "not a valid repository", "unknown version",
}

// cacheCorrupt reports whether a failed pull says the local cache itself is
// damaged (then it is cloned afresh) rather than the source or the network.
func cacheCorrupt(err error) bool {
	var he *hg.Error
	if !errors.As(err, &he) {
		return false
	}
	return containsAny(strings.ToLower(he.Stderr), corruptPhrases)
}

// errText is what a failed command said: its stderr and exit status when
// known (the arguments, which hold paths and URLs, could match by chance).
func errText(err error) string {
	var he *hg.Error
	if errors.As(err, &he) {
		return he.Stderr + "\n" + he.Err.Error()
	}
	var ge *git.Error
	if errors.As(err, &ge) {
		s := ge.Stderr
		if ge.Err != nil {
			s += "\n" + ge.Err.Error()
		}
		return s
	}
	return err.Error()
}
