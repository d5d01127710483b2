package hg

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// Messages as hg 6.3 writes them (each seen in a real run).
func TestKindOf(t *testing.T) {
	t.Parallel()
	for stderr, want := range map[string]Kind{
		"abort: http authorization required for https://hg.example.org/r":                                               KindAuth,
		"abort: authorization failed":                                                                                   KindAuth,
		"abort: HTTP Error 401: Unauthorized":                                                                           KindAuth,
		"abort: HTTP Error 403: Forbidden":                                                                              KindAuth,
		"remote: Permission denied (publickey).\nabort: no suitable response from remote hg":                            KindAuth,
		"remote: Host key verification failed.\nabort: no suitable response from remote hg":                             KindAuth,
		"remote: ssh: connect to host 127.0.0.1 port 1: Connection refused\nabort: no suitable response from remote hg": KindNetwork,
		"abort: HTTP Error 404: Not Found":                                                                              KindNotFound,
		"abort: repository /srv/nope not found":                                                                         KindNotFound,
		"abort: HTTP Error 500: Internal Server Error":                                                                  KindNetwork,
		"abort: error: Name or service not known":                                                                       KindNetwork,
		"abort: error: Connection refused":                                                                              KindNetwork,
		"abort: 'https://x/' does not appear to be an hg repository:\n---%<--- (text/html)\n<p>timeout, not found, HTTP Error 401</p>\n---%<---": KindNotFound,
		"abort: abandoned transaction found\n(run 'hg recover' to clean up transaction)":                                                         KindCorrupt,
		"abort: integrity check failed on data/a.i:0!":                                                                                           KindCorrupt,
		"abort: 00changelog@abc: no match found":                                                                                                 KindCorrupt,
		"abort: unknown version (29282) in revlog 00changelog":                                                                                   KindCorrupt,
		"abort: unknown compression type 8a":                                                                                                     KindCorrupt,
		"abort: repository requires features unknown to this Mercurial: foo":                                                                     KindUnsupported,
		"abort: something odd": KindOther,
		"":                     KindOther,
	} {
		if got := kindOf(errors.New("exit status 255"), stderr); got != want {
			t.Errorf("kindOf(%q) = %v, want %v", stderr, got, want)
		}
	}
	if got := kindOf(context.DeadlineExceeded, ""); got != KindNetwork {
		t.Errorf("timeout: %v", got)
	}
	e := &Error{Kind: KindCorrupt, Err: errors.New("exit status 255")}
	if !errors.Is(e, ErrCorrupt) || errors.Is(&Error{Kind: KindNetwork}, ErrCorrupt) {
		t.Error("errors.Is(*Error, ErrCorrupt) does not follow the kind")
	}
}

// TestRunnerErrorKinds makes real hg fail in each way and checks the kind
// the Runner decides.
func TestRunnerErrorKinds(t *testing.T) {
	requireHg(t)
	t.Parallel()
	ctx := testContext(t)
	src, srv := servedRepo(t)
	served := srv.URL

	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/401":
			w.Header().Set("WWW-Authenticate", `Basic realm="r"`)
			w.WriteHeader(http.StatusUnauthorized)
		case "/403":
			w.WriteHeader(http.StatusForbidden)
		case "/500":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<p>not found, HTTP Error 401</p>"))
		}
	}))
	t.Cleanup(web.Close)
	closed := "http://" + hgtest.ClosedAddr(t) + "/"

	var r Runner
	for name, tc := range map[string]struct {
		source string
		want   Kind
	}{
		"404":                {served + "no/such/repo", KindNotFound},
		"local missing":      {filepath.Join(t.TempDir(), "nope"), KindNotFound},
		"not a repository":   {web.URL + "/page", KindNotFound},
		"401":                {web.URL + "/401", KindAuth},
		"401 wrong password": {"http://u:p@" + web.Listener.Addr().String() + "/401", KindAuth},
		"403":                {web.URL + "/403", KindAuth},
		"500":                {web.URL + "/500", KindNetwork},
		"refused":            {closed, KindNetwork},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t) // the parent's may be spent while subtests wait for a slot
			err := r.Clone(ctx, tc.source, filepath.Join(t.TempDir(), "x"))
			var he *Error
			if !errors.As(err, &he) || he.Kind != tc.want || he.ExitCode != 255 {
				t.Errorf("Clone: %v (kind %v), want kind %v", err, kindOfErr(err), tc.want)
			}
		})
	}

	// A damaged cache, pulled into.
	damage := map[string]struct {
		harm func(dir string)
		want Kind
	}{
		"abandoned transaction": {func(dir string) {
			fi, err := os.Stat(filepath.Join(dir, ".hg", "store", "data", "a.i"))
			if err != nil {
				t.Fatal(err)
			}
			// The journal names the file's current size: recovering truncates nothing.
			writeFile(t, filepath.Join(dir, ".hg", "store", "journal"), fmt.Sprintf("data/a.i %d\n", fi.Size()))
		}, KindCorrupt},
		"unknown requirement": {func(dir string) { appendFile(t, filepath.Join(dir, ".hg", "requires"), "exp-no-such-feature\n") }, KindUnsupported},
		"changelog garbage":   {func(dir string) { writeFile(t, filepath.Join(dir, ".hg", "store", "00changelog.i"), "garbage!") }, KindCorrupt},
	}
	caches := map[string]string{}
	for name := range damage {
		caches[name] = filepath.Join(t.TempDir(), "cache")
		if err := r.Clone(ctx, served, caches[name]); err != nil {
			t.Fatal(err)
		}
	}
	src.Write("a", "2\n")
	src.Commit() // something to pull: hg checks the journal when it opens a transaction
	for name, tc := range damage {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t) // the parent's may be spent while subtests wait for a slot
			tc.harm(caches[name])
			err := r.Pull(ctx, caches[name], served)
			var he *Error
			if !errors.As(err, &he) || he.Kind != tc.want {
				t.Errorf("Pull: %v (kind %v), want kind %v", err, kindOfErr(err), tc.want)
			}
			if tc.want == KindCorrupt && !errors.Is(err, ErrCorrupt) {
				t.Errorf("not ErrCorrupt: %v", err)
			}
			if name == "abandoned transaction" {
				if err := r.Recover(ctx, caches[name]); err != nil {
					t.Fatalf("Recover: %v", err)
				}
				if err := r.Pull(ctx, caches[name], served); err != nil {
					t.Errorf("Pull after Recover: %v", err)
				}
			}
		})
	}
}

func kindOfErr(err error) Kind {
	var he *Error
	if errors.As(err, &he) {
		return he.Kind
	}
	return -1
}

func appendFile(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
}

func TestFormatErrorsAreErrCorrupt(t *testing.T) {
	t.Parallel()
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", what, err)
		}
	}
	header := []byte{0, 1, 0, 1} // revlog v1, inline
	_, err := parseRevlog("t.i", header)
	check("truncated index", err)
	_, err = parseRevlog("t.i", []byte{0x80, 0, 0, 1})
	check("unknown revlog flags", err)
	_, err = ParseChangeset([]byte("no newline"))
	check("changeset", err)
	_, err = ParseManifest([]byte("path-without-nul\n"))
	check("manifest", err)
	_, _, err = ParseFileMeta([]byte("\x01\nkey: value\n"))
	check("file metadata", err)
	_, err = Patch([]byte("base"), []byte{0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0})
	check("delta", err)
	if _, err := parseRevlog("t.i", []byte{0, 0, 0, 2}); err == nil || errors.Is(err, ErrCorrupt) {
		t.Errorf("an unsupported version is not corruption: %v", err)
	}
}

func TestRevisionOutOfRange(t *testing.T) {
	t.Parallel()
	requireHg(t)
	repo := hgtest.NewRepo(t)
	repo.Write("a", "1\n")
	repo.Commit()
	r, err := Open(repo.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cl := r.Changelog()
	if n, err := cl.Node(-1); err != nil || n != NullNode {
		t.Errorf("Node(-1) = %v, %v; want the null node", n, err)
	}
	if n, err := cl.Node(0); err != nil || n == NullNode {
		t.Errorf("Node(0) = %v, %v", n, err)
	}
	for _, rev := range []int{1, 99, -2} {
		_, err := cl.Node(rev)
		_, _, perr := cl.Parents(rev)
		_, lerr := cl.LinkRev(rev)
		_, serr := cl.RawSize(rev)
		_, rerr := cl.Revision(rev)
		_, cerr := r.Changeset(rev)
		for name, e := range map[string]error{"Node": err, "Parents": perr, "LinkRev": lerr, "RawSize": serr, "Revision": rerr, "Changeset": cerr} {
			if !errors.Is(e, ErrRevisionRange) {
				t.Errorf("%s(%d) = %v, want ErrRevisionRange", name, rev, e)
			}
		}
	}
}
