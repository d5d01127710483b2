package hgwire

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// bundleSummary is what a walk over a whole bundle found.
type bundleSummary struct {
	parts      []string
	changesets []hg.Node
	manifests  int
	files      map[string]int
	phaseHeads []PhaseHead
	markers    []Obsmarker
	bookmarks  map[string]hg.Node
}

// summarize reads a whole bundle2 stream with the package's parsers,
// checking every changelog and manifest node against its text where the
// delta is a full text.
func summarize(r io.Reader) (*bundleSummary, error) {
	b, err := NewBundle2Reader(r)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	s := &bundleSummary{files: map[string]int{}}
	for {
		p, err := b.NextPart()
		if err == io.EOF {
			return s, nil
		}
		if err != nil {
			return nil, err
		}
		s.parts = append(s.parts, p.Name())
		switch p.Name() {
		case "changegroup":
			err = s.walkChangegroup(p)
		case "phase-heads":
			err = parsePart(p, &s.phaseHeads, ParsePhaseHeads)
		case "obsmarkers":
			err = parsePart(p, &s.markers, ParseObsmarkers)
		case "bookmarks":
			err = parsePart(p, &s.bookmarks, ParseBookmarks)
		case "hgtagsfnodes", "cache:rev-branch-cache":
			// caches: hg recomputes them
		default:
			if p.Mandatory {
				err = &UnsupportedError{What: "part " + p.Type}
			}
		}
		if err != nil {
			return nil, err
		}
	}
}

// walkChangegroup counts the changesets, manifests and file revisions of
// a changegroup part.
func (s *bundleSummary) walkChangegroup(p *Part) error {
	v := p.Params["version"]
	if v == "" {
		v = "01"
	}
	cg, err := NewChangegroupReader(p, v)
	if err != nil {
		return err
	}
	return cg.Walk(ChangegroupHandler{
		Changeset: func(d *Delta) error { s.changesets = append(s.changesets, d.Node); return nil },
		Manifest:  func(d *Delta) error { s.manifests++; return nil },
		File:      func(path string, d *Delta) error { s.files[path]++; return nil },
	})
}

func TestParseSmallBundles(t *testing.T) {
	for _, name := range []string{"small-none.hg", "small-zstd.hg", "small-gzip.hg", "small-cg3.hg"} {
		t.Run(name, func(t *testing.T) {
			s, err := summarize(openFile(t, filepath.Join("testdata", name)))
			if err != nil {
				t.Fatal(err)
			}
			if len(s.changesets) != 4 || s.manifests != 4 {
				t.Fatalf("changesets %d, manifests %d; want 4, 4", len(s.changesets), s.manifests)
			}
			if s.files["a"] != 2 || s.files["b"] != 2 || s.files["with space.txt"] != 1 {
				t.Fatalf("files %v", s.files)
			}
			if name == "small-none.hg" || name == "small-zstd.hg" {
				if len(s.phaseHeads) != 2 || s.phaseHeads[0].Phase != hg.Public || s.phaseHeads[1].Phase != hg.Draft {
					t.Fatalf("phase heads %v", s.phaseHeads)
				}
				if s.phaseHeads[1].Node != s.changesets[3] {
					t.Fatalf("draft head %s, want the last changeset %s", s.phaseHeads[1].Node, s.changesets[3])
				}
				if len(s.markers) != 1 {
					t.Fatalf("markers %d, want 1 (the amend)", len(s.markers))
				}
				m := s.markers[0]
				if len(m.Succs) != 1 || m.Succs[0] != s.changesets[3] || m.Meta["operation"] != "amend" || m.Meta["user"] != "Test <test@example.com>" {
					t.Fatalf("marker %+v", m.Marker)
				}
				if m.Date.Unix() < 1e9 {
					t.Fatalf("marker date %v", m.Date)
				}
			}
		})
	}
}

func TestParseClickBundle(t *testing.T) {
	f, err := os.Open(hgtest.Bundle(t, "click.hg"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := summarize(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.changesets) != 3333 || s.manifests < 3000 || len(s.files) < 100 {
		t.Fatalf("click: %d changesets, %d manifests, %d files", len(s.changesets), s.manifests, len(s.files))
	}
}

func TestBundle2Errors(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "small-none.hg"))
	if err != nil {
		t.Fatal(err)
	}
	for cut := 0; cut < len(good)-4; cut += 7 {
		if _, err := summarize(bytes.NewReader(good[:cut])); err == nil {
			t.Fatalf("bundle cut at %d of %d bytes: no error", cut, len(good))
		} else if !errors.Is(err, ErrTruncated) {
			t.Fatalf("cut at %d: %v, want ErrTruncated", cut, err)
		}
	}
	abort := buildBundle(t, part{typ: "error:abort", mandatory: map[string]string{"message": "no such revision", "hint": "pull first"}})
	_, err = summarize(bytes.NewReader(abort))
	var re *RemoteError
	if !errors.As(err, &re) || re.Message != "no such revision" || re.Hint != "pull first" {
		t.Fatalf("error:abort part: %v", err)
	}
	unknown := buildBundle(t, part{typ: "Weird-Part"})
	_, err = summarize(bytes.NewReader(unknown))
	var ue *UnsupportedError
	if !errors.As(err, &ue) {
		t.Fatalf("unknown mandatory part: %v", err)
	}
	// An advisory unknown part is skipped.
	if _, err := summarize(bytes.NewReader(buildBundle(t, part{typ: "weird", payload: []byte("xyz")}))); err != nil {
		t.Fatalf("advisory part: %v", err)
	}
	// An interrupt carrying error:abort in the middle of a payload.
	var buf bytes.Buffer
	buf.WriteString("HG20\x00\x00\x00\x00")
	writePartHeader(&buf, part{typ: "phase-heads"})
	buf.Write([]byte{0xff, 0xff, 0xff, 0xff})
	writePartHeader(&buf, part{typ: "error:abort", mandatory: map[string]string{"message": "server died"}})
	buf.Write([]byte{0, 0, 0, 0})
	_, err = summarize(&buf)
	if !errors.As(err, &re) || re.Message != "server died" {
		t.Fatalf("interrupt: %v", err)
	}
}
