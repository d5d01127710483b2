package mirror

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"

	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
)

// Where a failing command talked to: the classes of "not found" differ.
type side int

const (
	sourceSide side = iota
	destSide
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
	var he *hg.Error
	if s == sourceSide && errors.As(err, &he) && he.Kind == hg.KindAuth {
		// The mirror's credentials (or their absence): the configuration's
		// fault, 400, never retried.
		return &Error{Op: op, Class: BadRequest, Err: fmt.Errorf("source refused our credentials: %w", err)}
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
	var he *hg.Error
	if errors.As(err, &he) {
		switch he.Kind {
		case hg.KindAuth:
			return Permanent
		case hg.KindNotFound, hg.KindUnsupported:
			return BadRequest
		case hg.KindNetwork:
			return Transient
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return Transient
	}
	// Anything else a remote answered (a protocol error, a refused push) is
	// more likely lasting than not, but it is nobody's request's fault.
	if s == destSide {
		return Permanent
	}
	return Internal
}

// cacheCorrupt reports whether a failed pull says the local cache itself is
// damaged, or in a format this hg cannot use (then it is cloned afresh),
// rather than the source or the network.
func cacheCorrupt(err error) bool {
	var he *hg.Error
	return errors.As(err, &he) && (he.Kind == hg.KindCorrupt || he.Kind == hg.KindUnsupported)
}
