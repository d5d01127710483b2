package hgwire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// streamEntry is one file of a stream2 part.
type streamEntry struct {
	src  byte
	name string
	data []byte
}

// smallStream returns the requirements and files of the stream2 part of
// testdata/small-stream.hg (made by testdata/mkbundles.sh), and its tip.
func smallStream(t testing.TB) (string, []streamEntry, hg.Node) {
	b, err := NewBundle2Reader(openFile(t, filepath.Join("testdata", "small-stream.hg")))
	if err != nil {
		t.Fatal(err)
	}
	p, err := b.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(p)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p.Params["filecount"])
	r := bytes.NewReader(raw)
	var out []streamEntry
	for range n {
		src, _ := r.ReadByte()
		nl, _ := binary.ReadUvarint(r)
		dl, _ := binary.ReadUvarint(r)
		name := make([]byte, nl)
		io.ReadFull(r, name)
		data := make([]byte, dl)
		io.ReadFull(r, data)
		out = append(out, streamEntry{src, string(name), data})
	}
	dir := t.TempDir()
	for _, e := range out {
		if e.name == "00changelog.i" {
			os.WriteFile(filepath.Join(dir, "00changelog.i"), e.data, 0o644)
		}
	}
	cl, err := hg.OpenRevlog(filepath.Join(dir, "00changelog.i"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	tip, err := cl.Node(cl.Len() - 1)
	if err != nil {
		t.Fatal(err)
	}
	rq, _ := url.QueryUnescape(p.Params["requirements"])
	return rq, out, tip
}

// encodeStream encodes entries as a stream2 payload.
func encodeStream(entries []streamEntry) ([]byte, int) {
	var buf bytes.Buffer
	size := 0
	for _, e := range entries {
		buf.WriteByte(e.src)
		buf.Write(binary.AppendUvarint(nil, uint64(len(e.name))))
		buf.Write(binary.AppendUvarint(nil, uint64(len(e.data))))
		buf.WriteString(e.name)
		buf.Write(e.data)
		size += len(e.data)
	}
	return buf.Bytes(), size
}

// streamPart is a stream2 part of entries.
func streamPart(reqs string, entries []streamEntry) part {
	payload, size := encodeStream(entries)
	return part{typ: "STREAM2", mandatory: map[string]string{
		"requirements": url.QueryEscape(reqs), "filecount": strconv.Itoa(len(entries)), "bytecount": strconv.Itoa(size),
	}, payload: payload}
}

// streamServer is hostileServer offering a stream clone: getbundle with
// stream=1 is answered by stream, any other by an error:abort part
// "changegroup asked" when cgAbort, else by an empty bundle.
func streamServer(t *testing.T, heads []hg.Node, reqs string, stream func(w io.Writer), cgAbort bool) string {
	b2 := ClientBundle2Caps()
	b2["stream"] = []string{"v2"}
	caps := "batch getbundle known lookup httpheader=1024 httpmediatype=0.1rx,0.1tx,0.2tx compression=none bundle2=" +
		b2.Encode() + " streamreqs=" + reqs
	return protocolServer(t, caps, heads, func(w io.Writer, args string) {
		q, _ := url.ParseQuery(args)
		if q.Get("stream") == "1" {
			stream(w)
			return
		}
		if cgAbort {
			w.Write(buildBundle(t, abortPart("changegroup asked")))
			return
		}
		w.Write(buildBundle(t))
	})
}

func abortPart(msg string) part {
	return part{typ: "error:abort", mandatory: map[string]string{"message": msg}}
}

// replaced returns entries with the one named name changed by fn (nil
// drops it).
func replaced(entries []streamEntry, name string, fn func(e streamEntry) *streamEntry) []streamEntry {
	var out []streamEntry
	for _, e := range entries {
		if e.name == name {
			e.data = append([]byte{}, e.data...)
			if n := fn(e); n != nil {
				out = append(out, *n)
			}
			continue
		}
		out = append(out, e)
	}
	return out
}

// TestStreamHostile serves stream clones that are broken or hostile: each
// is a clear error and leaves the cache as it was (nothing outside it
// written); a good one passes hg verify.
func TestStreamHostile(t *testing.T) {
	reqs, entries, tip := smallStream(t)
	// A declined stream is followed by a changegroup request, which these
	// servers answer with an abort.
	declined := func(err error) bool {
		var e *RemoteError
		return errors.As(err, &e) && e.Message == "changegroup asked"
	}
	cases := []struct {
		name    string
		stream  func(w io.Writer)
		opts    PullOptions
		want    func(error) bool
		cgAbort bool
	}{
		{"good", func(w io.Writer) { w.Write(buildBundle(t, streamPart(reqs, entries))) }, PullOptions{}, nil, false},
		{"abort before the stream", func(w io.Writer) {
			w.Write(buildBundle(t, abortPart("stream data requested but server does not allow this feature")))
		}, PullOptions{}, declined, true},
		{"abort in the middle", func(w io.Writer) {
			p := streamPart(reqs, entries)
			var buf bytes.Buffer
			buf.WriteString("HG20\x00\x00\x00\x00")
			writePartHeader(&buf, p)
			half := p.payload[:len(p.payload)/2]
			binary.Write(&buf, binary.BigEndian, int32(len(half)))
			buf.Write(half)
			binary.Write(&buf, binary.BigEndian, int32(-1))
			writePartHeader(&buf, abortPart("clone could only read 10 bytes from data/a.i"))
			buf.Write([]byte{0, 0, 0, 0})
			w.Write(buf.Bytes())
		}, PullOptions{}, declined, true},
		{"unknown requirement", func(w io.Writer) {
			w.Write(buildBundle(t, streamPart(reqs+",treemanifest", entries)))
		}, PullOptions{}, declined, true},
		{"unknown mandatory part", func(w io.Writer) {
			w.Write(buildBundle(t, part{typ: "Evil-Part", payload: []byte("x")}, streamPart(reqs, entries)))
		}, PullOptions{}, declined, true},
		{"truncated", func(w io.Writer) {
			b := buildBundle(t, streamPart(reqs, entries))
			w.Write(b[:len(b)*2/3])
		}, PullOptions{}, func(err error) bool { return errors.Is(err, ErrTruncated) }, false},
		{"wrong node hash", func(w io.Writer) {
			bad := replaced(entries, "data/a.i", func(e streamEntry) *streamEntry {
				e.data[40] ^= 1 // in the node of revision 0
				return &e
			})
			w.Write(buildBundle(t, streamPart(reqs, bad)))
		}, PullOptions{}, func(err error) bool {
			return errors.Is(err, hg.ErrCorrupt) && strings.Contains(err.Error(), "does not match")
		}, false},
		{"file revisions missing", func(w io.Writer) {
			bad := replaced(entries, "data/a.i", func(streamEntry) *streamEntry { return nil })
			w.Write(buildBundle(t, streamPart(reqs, bad)))
		}, PullOptions{}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "which was not sent") }, false},
		{"manifest missing", func(w io.Writer) {
			bad := replaced(entries, "00manifest.i", func(streamEntry) *streamEntry { return nil })
			w.Write(buildBundle(t, streamPart(reqs, bad)))
		}, PullOptions{}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "which was not sent") }, false},
		{"file outside the store", func(w io.Writer) {
			bad := append(append([]streamEntry{}, entries...), streamEntry{'s', "data/../../../escaped.i", []byte("x")})
			w.Write(buildBundle(t, streamPart(reqs, bad)))
		}, PullOptions{}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "unexpected store file") }, false},
		{"a file twice", func(w io.Writer) {
			bad := append(append([]streamEntry{}, entries...), entries[0])
			w.Write(buildBundle(t, streamPart(reqs, bad)))
		}, PullOptions{}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "sent twice") }, false},
		{"more than declared", func(w io.Writer) {
			p := streamPart(reqs, entries)
			p.mandatory["bytecount"] = "10"
			w.Write(buildBundle(t, p))
		}, PullOptions{}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "beyond the 10 declared") }, false},
		{"data after the last file", func(w io.Writer) {
			p := streamPart(reqs, entries)
			p.payload = append(p.payload, "more"...)
			w.Write(buildBundle(t, p))
		}, PullOptions{}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "after the last file") }, false},
		{"data file longer than its index says", func(w io.Writer) {
			var bad []streamEntry
			for _, e := range entries {
				if e.name == "data/a.i" {
					// Split: the index without its inline data, then the data.
					idx, data := splitInline(t, e.data)
					bad = append(bad, streamEntry{'s', "data/a.i", idx}, streamEntry{'s', "data/a.d", append(data, 0)})
					continue
				}
				bad = append(bad, e)
			}
			w.Write(buildBundle(t, streamPart(reqs, bad)))
		}, PullOptions{}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "the index ends at") }, false},
		{"endless stream", func(w io.Writer) {
			p := streamPart(reqs, nil)
			p.mandatory["filecount"], p.mandatory["bytecount"] = "1", strconv.Itoa(1<<40)
			var head bytes.Buffer
			head.WriteByte('s')
			head.Write(binary.AppendUvarint(nil, uint64(len("data/a.i"))))
			head.Write(binary.AppendUvarint(nil, 1<<40))
			head.WriteString("data/a.i")
			p.payload = head.Bytes()
			writeEndless(w, buildBundle(t, p))
		}, PullOptions{MaxBytes: 4 << 20}, func(err error) bool { return errors.Is(err, ErrTooLarge) }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			url := streamServer(t, []hg.Node{tip}, reqs, c.stream, c.cgAbort)
			dir := t.TempDir()
			cache := filepath.Join(dir, "cache")
			if err := initCache(cache); err != nil {
				t.Fatal(err)
			}
			if stats := pullHostile(t, url, cache, dir, c.opts, c.want); c.want == nil && (!stats.Streamed || stats.Changesets != 3) {
				t.Fatalf("stats %+v: want a stream clone of 3 changesets", stats)
			}
		})
	}
}

// splitInline splits an inline revlog index into an index without data
// and its data file.
func splitInline(t *testing.T, b []byte) (idx, data []byte) {
	for pos, rev := 0, 0; pos < len(b); rev++ {
		e := append([]byte{}, b[pos:pos+64]...)
		clen := int(binary.BigEndian.Uint32(e[8:]))
		if rev == 0 {
			binary.BigEndian.PutUint32(e, binary.BigEndian.Uint32(e)&^(1<<16))
		} else {
			binary.BigEndian.PutUint64(e, uint64(len(data))<<16|uint64(binary.BigEndian.Uint16(e[6:])))
		}
		idx = append(idx, e...)
		data = append(data, b[pos+64:pos+64+clen]...)
		pos += 64 + clen
	}
	return idx, data
}

// streamSource is a publishing source without markers, so that hg serve
// offers its store as a stream: branches, a bookmark, a copy, a rename, a
// file name the store hashes, an incompressible file over 128 KiB (a split
// revlog) and a tag.
func streamSource(t testing.TB, opts ...hgtest.Option) *hgtest.Repo {
	src := hgtest.NewRepo(t, opts...)
	firstSteps(src)
	rnd := rand.New(rand.NewSource(1))
	big := make([]byte, 200<<10)
	rnd.Read(big)
	src.Write("big.bin", string(big))
	long := strings.Repeat("a-long-directory-name/", 8) + "File With A Long Name.TXT"
	src.Commit(hgtest.WithFile(long, "long\n"))
	src.Commit(hgtest.WithBranch("stable"), hgtest.WithFile("a", "a2\n"))
	src.Tag("v1")
	return src
}

// TestStreamClone clones sources that offer a stream over HTTP and ssh:
// the cache passes hg verify, agrees with the source and converts to the
// same map as one pulled as a changegroup; a draft stays a draft (the
// stream's phaseroots); later pulls are ordinary.
func TestStreamClone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts []hgtest.Option
	}{{"publishing", nil}, {"non-publishing", []hgtest.Option{hgtest.NonPublishing()}}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := streamSource(t, tc.opts...)
			// What the source shows: a publishing server's changesets
			// are public; the other's first two.
			publish := func() { src.Run("phase", "-p", "all()") }
			if tc.name == "non-publishing" {
				publish = func() {}
				src.Run("phase", "-p", "1")
			}
			publish()
			srv := hgtest.Serve(t, src, append(tc.opts, hgtest.WithSSH())...)
			dir := t.TempDir()
			streamed, cg, viaSSH := filepath.Join(dir, "stream"), filepath.Join(dir, "cg"), filepath.Join(dir, "ssh")
			st, stats := pull(t, srv.URL, streamed, PullOptions{})
			if !stats.Streamed || stats.StreamDeclined != "" || stats.Changesets != 5 {
				t.Fatalf("stats %+v: want a stream clone of 5 changesets", stats)
			}
			sameAsSource(t, src, streamed, st)
			st2, stats := pull(t, srv.URL, cg, PullOptions{NoStream: true})
			if stats.Streamed {
				t.Fatal("NoStream: streamed")
			}
			sameAsSource(t, src, cg, st2)
			var sshOpts PullOptions
			sshOpts.SSHCommand = strings.Fields(srv.SSHCommand(srv.KnownHosts))
			st3, stats := pull(t, srv.SSHURL, viaSSH, sshOpts)
			if !stats.Streamed {
				t.Fatalf("ssh: stats %+v: want a stream clone", stats)
			}
			sameAsSource(t, src, viaSSH, st3)
			if s1, s3 := storeOf(t, streamed), storeOf(t, viaSSH); s1 != s3 {
				t.Fatalf("the stores cloned over HTTP and ssh differ:\n%s\n%s", s1, s3)
			}
			sameMaps(t, streamed, cg)
			src.Update("default")
			src.Commit(hgtest.WithFile("after-the-stream", "new\n"))
			publish()
			for _, cache := range []string{streamed, cg} {
				st, stats := pull(t, srv.URL, cache, PullOptions{})
				if stats.Changesets != 1 || stats.Streamed {
					t.Fatalf("pull into %s: stats %+v, want 1 changeset pulled", filepath.Base(cache), stats)
				}
				sameAsSource(t, src, cache, st)
			}
			sameMaps(t, streamed, cg)
		})
	}
}

// TestStreamDeclined: sources that offer a stream but refuse it or need
// what the native writer does not take are cloned as a changegroup, the
// reason in the stats.
func TestStreamDeclined(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		opts  []hgtest.Option
		setup func(src *hgtest.Repo)
		why   string
	}{
		{"markers", []hgtest.Option{hgtest.WithEvolve(), hgtest.NonPublishing()}, func(src *hgtest.Repo) {
			src.Amend(hgtest.WithFile("a", "amended\n"))
		}, "refused"},
		{"secret changeset", []hgtest.Option{hgtest.NonPublishing()}, func(src *hgtest.Repo) {
			src.Commit(hgtest.WithFile("a", "secret\n"))
			src.Run("phase", "--force", "--secret", "-r", ".")
		}, "offers no stream"},
		{"stream off", []hgtest.Option{hgtest.NonPublishing(), hgtest.WithConfig("server.uncompressed=false")}, func(*hgtest.Repo) {}, "offers no stream"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			src := streamSource(t, c.opts...)
			c.setup(src)
			srv := hgtest.Serve(t, src, c.opts...)
			cache := filepath.Join(t.TempDir(), "cache")
			st, stats := pull(t, srv.URL, cache, PullOptions{})
			t.Logf("declined: %s", stats.StreamDeclined)
			if stats.Streamed || !strings.Contains(stats.StreamDeclined, c.why) {
				t.Fatalf("stats %+v: want the stream declined (%s)", stats, c.why)
			}
			if c.name != "secret changeset" {
				sameAsSource(t, src, cache, st)
				return
			}
			verify(t, cache) // the secret changeset stays at the source
			want := hgtest.Run(t, src.Dir, "log", "-r", "sort(not secret(), node)", "-T", "{node}\n")
			if got := hgtest.Run(t, cache, "log", "-r", "sort(all(), node)", "-T", "{node}\n"); got != want {
				t.Fatalf("cache holds:\n%s\nwant what the source shows:\n%s", got, want)
			}
		})
	}
}

// FuzzStreamClone reads a getbundle answer as a stream clone into a store
// and checks that store: whatever the bytes, an error or a store that
// passed the checks, never a panic or a file outside the store.
func FuzzStreamClone(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		store := filepath.Join(dir, "store")
		check := newStoreCheck(store)
		got, err := readStreamBundle(bytes.NewReader(b), store, check)
		if err == nil {
			verifyStore(store, got.files, check)
		}
		check.wait()
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Name() != "store" {
				t.Fatalf("%s written outside the store", e.Name())
			}
		}
	})
}

// TestWriteStreamFuzzSeeds writes FuzzStreamClone's seed from
// testdata/small-stream.hg (HGWIRE_WRITE_SEEDS=1, as TestWriteFuzzSeeds).
func TestWriteStreamFuzzSeeds(t *testing.T) {
	if os.Getenv("HGWIRE_WRITE_SEEDS") == "" {
		t.Skip("set HGWIRE_WRITE_SEEDS=1 to rewrite testdata/fuzz/FuzzStreamClone")
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "small-stream.hg"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzStreamClone")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	seed := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(raw)))
	if err := os.WriteFile(filepath.Join(dir, "small-stream"), []byte(seed), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStreamOfferDeclined: a server with the narrow extension (which may
// narrow what it serves by narrowacl) or one whose repository requires
// LFS gets no stream request, though it advertises streamreqs.
func TestStreamOfferDeclined(t *testing.T) {
	t.Parallel()
	lfsSource := func(t *testing.T) *hgtest.Repo {
		src := hgtest.NewRepo(t)
		f, err := os.OpenFile(filepath.Join(src.Dir, ".hg", "hgrc"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(f, "[extensions]\nlfs =\n[lfs]\ntrack = all()\n")
		f.Close()
		src.Commit(hgtest.WithFile("a", "in LFS\n"))
		if req := hgtest.Run(t, src.Dir, "debugrequires"); !strings.Contains(req, "lfs") {
			t.Fatalf("the source does not require lfs:\n%s", req)
		}
		return src
	}
	for _, tc := range []struct {
		name, why string
		source    func(t *testing.T) *hgtest.Repo
		serve     []hgtest.Option
	}{
		{"narrow", "narrow", func(t *testing.T) *hgtest.Repo { return streamSource(t) },
			[]hgtest.Option{hgtest.WithConfig("extensions.narrow=", "narrowacl.default.includes=Dir")}},
		{"lfs", "LFS", lfsSource, []hgtest.Option{hgtest.WithConfig("extensions.lfs=")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := hgtest.Serve(t, tc.source(t), tc.serve...)
			_, peer := dialTest(t, srv.URL)
			if !peer.Caps().Has("streamreqs") {
				t.Fatalf("hg serve offers no stream: the case is not tested (caps %v)", peer.Caps())
			}
			if _, why := peer.streamOffer(); !strings.Contains(why, tc.why) {
				t.Fatalf("stream offer: %q, want it declined for %s", why, tc.why)
			}
		})
	}
}

// TestManifestSpans: the manifest log read in spans (one per CPU for a
// long one) sums up as it does read whole: click's manifests in 2, 3 and
// 7 spans against 1.
func TestManifestSpans(t *testing.T) {
	t.Parallel()
	click := hgtest.Unbundle(t, "click.hg")
	store := filepath.Join(click.Dir, ".hg", "store")
	rl, err := openStored(store, "00manifest.i")
	if err != nil {
		t.Fatal(err)
	}
	n := rl.Len()
	rl.Close()
	var whole manifestSummary
	if err := whole.readSpans(store, n, 1); err != nil {
		t.Fatal(err)
	}
	if len(whole.nodes) != n || len(whole.links) != n || n < 3*manifestSpan || len(whole.fileNodes) == 0 {
		t.Fatalf("%d manifests: %d nodes, %d links, %d paths", n, len(whole.nodes), len(whole.links), len(whole.fileNodes))
	}
	for _, spans := range []int{2, 3, 7} {
		var parts manifestSummary
		if err := parts.readSpans(store, n, spans); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(parts, whole) {
			t.Errorf("%d spans: %d nodes, %d paths; whole: %d nodes, %d paths", spans, len(parts.nodes), len(parts.fileNodes), len(whole.nodes), len(whole.fileNodes))
		}
	}
}
