package hgwire

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/hg"
)

// hostileServer speaks the wire protocol well enough to be pulled from and
// answers getbundle with whatever bundle returns (written raw, in the 0.2
// envelope without compression).
func hostileServer(t *testing.T, heads []hg.Node, bundle func(w io.Writer)) string {
	caps := "batch getbundle known lookup httpheader=1024 httpmediatype=0.1rx,0.1tx,0.2tx compression=none bundle2=" +
		ClientBundle2Caps().Encode()
	return protocolServer(t, caps, heads, func(w io.Writer, _ string) { bundle(w) })
}

// protocolServer answers capabilities with caps, a batch of heads,
// listkeys phases and known (every node known), and getbundle (in the
// 0.2 envelope without compression) with what getbundle writes, given the
// request's arguments (X-HgArg headers joined).
func protocolServer(t *testing.T, caps string, heads []hg.Node, getbundle func(w io.Writer, args string)) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var args string
		for i := 1; ; i++ {
			v := r.Header.Get(fmt.Sprintf("X-HgArg-%d", i))
			if v == "" {
				break
			}
			args += v
		}
		switch r.URL.Query().Get("cmd") {
		case "capabilities":
			w.Header().Set("Content-Type", "application/mercurial-0.1")
			io.WriteString(w, caps)
		case "batch":
			w.Header().Set("Content-Type", "application/mercurial-0.1")
			n := strings.Count(args, "%3B") + strings.Count(args, ";") + 1
			answers := []string{joinNodes(heads) + "\n", "publishing\tTrue\n"}
			if n > 2 {
				answers = append(answers, strings.Repeat("1", strings.Count(args, "nodes")))
			}
			io.WriteString(w, strings.Join(answers[:n], ";"))
		case "getbundle":
			w.Header().Set("Content-Type", "application/mercurial-0.2")
			io.WriteString(w, "\x04none")
			getbundle(w, args)
		default:
			w.Header().Set("Content-Type", "application/hg-error")
			io.WriteString(w, "unknown command")
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// snapshot hashes every file under dir.
func snapshot(t *testing.T, dir string) map[string]string {
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			out[p] = "symlink"
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[p] = fmt.Sprintf("%x", sha256.Sum256(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// smallParts returns the changegroup payload and the head of the small
// test bundle.
func smallParts(t *testing.T) ([]byte, hg.Node) {
	parts := partPayloads(t, filepath.Join("testdata", "small-none.hg"))
	ph, err := ParsePhaseHeads(parts["phase-heads"])
	if err != nil {
		t.Fatal(err)
	}
	return parts["changegroup02"], ph[len(ph)-1].Node
}

// rewriteChunks rewrites the changegroup's chunks with fn (which gets the
// chunk's index and bytes and returns the replacement).
func rewriteChunks(t *testing.T, cg []byte, fn func(i int, c []byte) []byte) []byte {
	var out bytes.Buffer
	for i := 0; len(cg) > 0; i++ {
		n := int(binary.BigEndian.Uint32(cg))
		var c []byte
		if n > 0 {
			c = append([]byte{}, cg[4:n]...)
			cg = cg[n:]
		} else {
			cg = cg[4:]
		}
		c = fn(i, c)
		if c == nil {
			out.Write([]byte{0, 0, 0, 0})
			continue
		}
		binary.Write(&out, binary.BigEndian, uint32(len(c)+4))
		out.Write(c)
	}
	return out.Bytes()
}

func TestHostileServers(t *testing.T) {
	cg, head := smallParts(t)
	cgPart := func(payload []byte) part {
		return part{typ: "CHANGEGROUP", mandatory: map[string]string{"version": "02"}, payload: payload}
	}
	cases := []struct {
		name   string
		bundle func(w io.Writer)
		opts   PullOptions
		want   func(error) bool
	}{
		{"good", func(w io.Writer) { w.Write(buildBundle(t, cgPart(cg))) }, PullOptions{}, nil},
		{"truncated", func(w io.Writer) {
			b := buildBundle(t, cgPart(cg))
			w.Write(b[:len(b)/2])
		}, PullOptions{}, func(err error) bool { return errors.Is(err, ErrTruncated) }},
		{"wrong node hash", func(w io.Writer) {
			bad := rewriteChunks(t, cg, func(i int, c []byte) []byte {
				if i == 1 && c != nil { // the second changeset's text
					c[len(c)-1] ^= 1
				}
				return c
			})
			w.Write(buildBundle(t, cgPart(bad)))
		}, PullOptions{}, func(err error) bool { var e *hg.HashMismatchError; return errors.As(err, &e) }},
		{"delta against unknown base", func(w io.Writer) {
			bad := rewriteChunks(t, cg, func(i int, c []byte) []byte {
				if i == 1 && c != nil {
					copy(c[60:80], bytes.Repeat([]byte{0xab}, 20))
				}
				return c
			})
			w.Write(buildBundle(t, cgPart(bad)))
		}, PullOptions{}, func(err error) bool {
			var e *hg.UnknownNodeError
			return errors.As(err, &e) && e.What == "delta base"
		}},
		{"file revisions missing", func(w io.Writer) {
			// The changelog and manifest groups, then no file group.
			var out bytes.Buffer
			rest, empties := cg, 0
			for empties < 2 {
				n := int(binary.BigEndian.Uint32(rest))
				if n == 0 {
					n, empties = 4, empties+1
				}
				out.Write(rest[:n])
				rest = rest[n:]
			}
			out.Write([]byte{0, 0, 0, 0})
			w.Write(buildBundle(t, cgPart(out.Bytes())))
		}, PullOptions{}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "which was not sent") }},
		{"huge declared length", func(w io.Writer) {
			bad := append([]byte{0x7f, 0xff, 0xff, 0xff}, cg[:200]...)
			w.Write(buildBundle(t, cgPart(bad)))
		}, PullOptions{MaxChunk: 64 << 20}, func(err error) bool {
			return err != nil && strings.Contains(err.Error(), "declared length")
		}},
		{"unknown mandatory part", func(w io.Writer) {
			w.Write(buildBundle(t, cgPart(cg), part{typ: "Evil-Part", payload: []byte("x")}))
		}, PullOptions{}, func(err error) bool { var e *UnsupportedError; return errors.As(err, &e) }},
		{"error:abort part", func(w io.Writer) {
			w.Write(buildBundle(t, part{typ: "error:abort", mandatory: map[string]string{"message": "repository is locked"}}))
		}, PullOptions{}, func(err error) bool {
			var e *RemoteError
			return errors.As(err, &e) && e.Message == "repository is locked"
		}},
		{"endless stream", func(w io.Writer) {
			writeEndless(w, buildBundle(t, cgPart(cg[:0]))) // an open changegroup part
		}, PullOptions{MaxBytes: 4 << 20}, func(err error) bool { return errors.Is(err, ErrTooLarge) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			url := hostileServer(t, []hg.Node{head}, c.bundle)
			cache := filepath.Join(t.TempDir(), "cache")
			if err := initCache(cache); err != nil {
				t.Fatal(err)
			}
			pullHostile(t, url, cache, cache, c.opts, c.want)
		})
	}
}

// writeEndless writes bundle but its end (its last part left open), then
// payload chunks of 32 KiB until the reader goes away.
func writeEndless(w io.Writer, bundle []byte) {
	w.Write(bundle[:len(bundle)-8])
	chunk := make([]byte, 4+32<<10)
	binary.BigEndian.PutUint32(chunk, 32<<10)
	for {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

// pullHostile pulls url into cache. With want nil the pull must succeed
// and hg verify pass on the cache, and its Stats are returned; otherwise
// want must accept the error and nothing below snapDir (the cache or a
// directory holding it) may have changed.
func pullHostile(t *testing.T, url, cache, snapDir string, opts PullOptions, want func(error) bool) *Stats {
	t.Helper()
	before := snapshot(t, snapDir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, stats, err := Pull(ctx, url, cache, opts)
	if want == nil {
		if err != nil {
			t.Fatal(err)
		}
		verify(t, cache)
		return stats
	}
	if !want(err) {
		t.Fatalf("error %v (%T) is not the one expected", err, err)
	}
	t.Logf("error: %v", err)
	if after := snapshot(t, snapDir); fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("cache changed:\nbefore %v\nafter  %v", before, after)
	}
	return nil
}
