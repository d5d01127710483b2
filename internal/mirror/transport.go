package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/hgwire"
)

// Transport is how a sync talks to a Mercurial source.
type Transport string

const (
	// TransportNative speaks the wire protocol in Go (internal/hgwire)
	// over HTTP(S) and ssh, and writes the cache's store itself; a source
	// that needs what it does not support is pulled with hg instead, for
	// that sync. The default.
	TransportNative Transport = "native"
	// TransportHg runs `hg clone` and `hg pull`.
	TransportHg Transport = "hg"
)

// Records other packages key on (cmd/synchroniser's test pauses), logged
// at debug level by either transport.
const (
	// MsgCachePulled: a pull into the hg cache is done, nothing converted.
	MsgCachePulled = "hg cache pulled"
	// MsgClonePartial: a native clone is complete under its temporary
	// name, not yet the cache (the hg transport's is its hg clone command).
	MsgClonePartial = "native clone complete"
)

// Transports are the valid transport names.
var Transports = []string{string(TransportNative), string(TransportHg)}

// Valid reports whether t names a transport ("" is the default, native).
func (t Transport) Valid() bool { return t == "" || t == TransportNative || t == TransportHg }

// hgSource leaves at root a cache of m.Source holding the source's state
// exactly, through transport t, and returns that state: the same value
// whichever transport made it. The native transport falls back to hg when
// the source needs what it does not support (one log line names why);
// without hg installed that is an Internal error naming the reason.
func (s *Syncer) hgSource(ctx context.Context, m Mirror, dir, root string, t Transport, log *slog.Logger) (*hg.SourceState, error) {
	if t == TransportHg {
		return s.hgCache(ctx, m, dir, root, log)
	}
	st, err := s.nativeCache(ctx, m, dir, root, log)
	if err == nil {
		return st, nil
	}
	reason, ok := needsHg(err)
	if !ok {
		return nil, err
	}
	if _, lerr := exec.LookPath(s.hgPath()); lerr != nil {
		return nil, &Error{Op: "pull", Class: Internal, Err: fmt.Errorf(
			"the native transport cannot pull this source (%s), and hg, its fallback, is not installed: %w", reason, hg.ErrNotInstalled)}
	}
	log.InfoContext(ctx, "native transport cannot pull this source: using hg", slog.String("reason", reason))
	return s.hgCache(ctx, m, dir, root, log)
}

// needsHg reports whether err, from the native transport, means the
// source (or a cache hg made for it) needs what only hg supports, and why.
func needsHg(err error) (reason string, ok bool) {
	var unsup *hgwire.UnsupportedError
	if errors.As(err, &unsup) {
		return unsup.What, true
	}
	var format *hg.UnsupportedError
	if errors.As(err, &format) {
		return "a cache with requirement " + format.Requirement, true
	}
	return "", false
}

// localSource is what needsHg says of a source the native transport
// cannot reach (a local path or file:// URL).
var localSource = &hgwire.UnsupportedError{What: "a local repository (the native transport speaks HTTP and ssh)"}

func (s *Syncer) hgPath() string {
	if p := s.hg().Path; p != "" {
		return p
	}
	return "hg"
}

// nativeCache is hgCache through the native transport: the cache is pulled
// into when usable, otherwise made afresh under a temporary name and
// renamed when complete. A failed pull leaves an existing cache as it was
// (hgwire's guarantee). Its errors are classified *Error values that
// wrap hgwire's (hgSource looks for a reason to fall back through them).
func (s *Syncer) nativeCache(ctx context.Context, m Mirror, dir, root string, log *slog.Logger) (*hg.SourceState, error) {
	if u, err := url.Parse(m.Source); err != nil || !strings.Contains(m.Source, "://") ||
		u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ssh" {
		return nil, &Error{Op: "pull", Class: BadRequest, Err: localSource}
	}
	opts, err := nativeOptions(m.SourceAuth)
	if err != nil {
		return nil, &Error{Op: "pull", Class: BadRequest, Err: fmt.Errorf("source refused our credentials: %w", err)}
	}
	timeout := s.hg().Timeout
	if timeout <= 0 {
		timeout = hg.DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fresh, why := nativeFresh(dir, root, m.Source)
	if !fresh {
		st, stats, err := hgwire.Pull(ctx, m.Source, root, opts)
		if err == nil {
			log.DebugContext(ctx, MsgCachePulled, slog.String("cache", root), slog.String("transport", "native"),
				slog.Int("changesets", stats.Changesets), slog.Int("roundtrips", stats.Roundtrips), slog.Bool("recloned", stats.Recloned))
			if len(st.Stripped) > 0 {
				log.WarnContext(ctx, "changesets gone from the source: the cache was made again from it",
					slog.Int("count", len(st.Stripped)), slog.String("first", st.Stripped[0].String()))
			}
			return nativeState(ctx, root, st, log)
		}
		if !errors.Is(err, hg.ErrCorrupt) {
			return nil, classifyNative("pull", err)
		}
		why = "damaged: " + err.Error()
	}
	if why != "" {
		log.WarnContext(ctx, "hg cache unusable: cloning again", slog.String("cache", root), slog.String("reason", why))
	}
	tmp := filepath.Join(dir, "hg.partial")
	if err := os.RemoveAll(tmp); err != nil {
		return nil, &Error{Op: "clone", Class: Internal, Err: err}
	}
	st, stats, err := hgwire.Pull(ctx, m.Source, tmp, opts)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, classifyNative("clone", err)
	}
	log.DebugContext(ctx, MsgClonePartial, slog.String("partial", tmp))
	if err := installClone(dir, tmp, root, m.Source); err != nil {
		return nil, err
	}
	attrs := []any{slog.String("cache", root), slog.String("transport", "native"), slog.Int("changesets", stats.Changesets),
		slog.Bool("streamed", stats.Streamed)}
	if stats.StreamDeclined != "" {
		attrs = append(attrs, slog.String("stream_declined", stats.StreamDeclined))
	}
	log.InfoContext(ctx, "hg cache cloned", attrs...)
	return nativeState(ctx, root, st, log)
}

// nativeState reads the source's state from the cache the native
// transport filled, as hgState does: the same value whichever transport
// pulled (hidden changesets are those the cache's markers hide, topics
// only on drafts). Publishing and Stripped are what the pull learnt.
func nativeState(ctx context.Context, root string, pulled *hg.SourceState, log *slog.Logger) (*hg.SourceState, error) {
	repo, err := hg.Open(root)
	if err != nil {
		return nil, &Error{Op: "state", Class: Internal, Err: err}
	}
	defer repo.Close()
	return stateOf(ctx, repo, pulled.Publishing, pulled.Stripped, log)
}

// nativeFresh says whether the cache at root must be made afresh (absent,
// of another source, or unreadable) and, when that is news, why. A cache
// in a format the native writer refuses is not made afresh: pulling into
// it says so, and hg pulls instead.
func nativeFresh(dir, root, source string) (fresh bool, why string) {
	if _, err := os.Stat(root); errors.Is(err, os.ErrNotExist) {
		return true, ""
	}
	if sourceChanged(dir, source) {
		return true, "the mirror's source changed"
	}
	r, err := hg.Open(root)
	if declaredRequirement(err) {
		return false, ""
	}
	if err != nil {
		return true, err.Error()
	}
	r.Close()
	return false, ""
}

// sourceChanged reports whether the cache in dir was cloned from another
// source than source.
func sourceChanged(dir, source string) bool {
	b, err := os.ReadFile(filepath.Join(dir, sourceFile))
	return err == nil && strings.TrimSpace(string(b)) != sourceID(source)
}

// installClone replaces the cache at root with the complete clone at tmp
// and records its source.
func installClone(dir, tmp, root, source string) error {
	if err := os.RemoveAll(root); err != nil {
		return &Error{Op: "clone", Class: Internal, Err: err}
	}
	if err := os.Rename(tmp, root); err != nil {
		return &Error{Op: "clone", Class: Internal, Err: err}
	}
	if err := os.WriteFile(filepath.Join(dir, sourceFile), []byte(sourceID(source)+"\n"), 0o644); err != nil {
		return &Error{Op: "clone", Class: Internal, Err: err}
	}
	return nil
}

// nativeOptions gives the mirror's source credentials to hgwire as the
// hg transport gets them: HTTP Basic with the token as the password; for
// ssh, the key only, with strict checking against the known_hosts file.
// Neither goes on a command line (the token is a header; the ssh command
// names the files) or in a log.
func nativeOptions(a SourceAuth) (hgwire.PullOptions, error) {
	c := sourceCredentials(a)
	var opts hgwire.PullOptions
	if ok, err := c.HTTPBasic(); err != nil {
		return opts, err
	} else if ok {
		opts.Username, opts.Password = c.User, c.Token
	}
	argv, err := c.SSHCommand()
	if err != nil {
		return opts, err
	}
	opts.SSHCommand = argv
	return opts, nil
}

// sshAuthFailures are ssh's words for refused credentials, as the native
// transport passes them on from ssh's stderr.
var sshAuthFailures = []string{
	"permission denied (publickey", "host key verification failed", "no matching host key",
	"too many authentication failures", "host key is known for", "remote host identification has changed",
}

// classifyNative wraps an error of the native transport in an *Error of
// the class the hg transport gives the same failure.
func classifyNative(op string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	refused := func() error {
		return &Error{Op: op, Class: BadRequest, Err: fmt.Errorf("source refused our credentials: %w", err)}
	}
	var he *hgwire.HTTPError
	if errors.As(err, &he) {
		switch {
		case he.Status == 401 || he.Status == 403:
			return refused()
		case he.Status == 404 || he.Status == 410:
			return &Error{Op: op, Class: BadRequest, Err: err}
		case he.Status >= 500 || he.Status == 429:
			return &Error{Op: op, Class: Transient, Err: err}
		}
		return &Error{Op: op, Class: Internal, Err: err}
	}
	msg := strings.ToLower(err.Error())
	if strings.Contains(msg, "ssh") {
		for _, f := range sshAuthFailures {
			if strings.Contains(msg, f) {
				return refused()
			}
		}
	}
	if strings.Contains(msg, "does not look like a mercurial repository") {
		return &Error{Op: op, Class: BadRequest, Err: err}
	}
	// A connection that broke (reset, a broken pipe, closed before an
	// answer came: io.EOF from the HTTP client) is hg's "connection
	// reset", "broken pipe", "remote end closed connection without
	// response", all network failures; hg serve breaks the connection
	// that way on a header line over 64 KiB as often as it answers 431.
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, hgwire.ErrTruncated) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &Error{Op: op, Class: Transient, Err: err}
	}
	return &Error{Op: op, Class: Internal, Err: err}
}
