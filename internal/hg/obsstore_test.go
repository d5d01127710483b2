package hg

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// hgMarker is one marker as `hg debugobsolete -Tjson` prints it.
type hgMarker struct {
	Date        [2]float64        `json:"date"`
	Flag        int               `json:"flag"`
	Metadata    map[string]string `json:"metadata"`
	Parentnodes *[]string         `json:"parentnodes"`
	Prednode    string            `json:"prednode"`
	Succnodes   []string          `json:"succnodes"`
}

// makeMarkers builds a repository whose obsstore has markers of every
// shape (rewrite, split, prune with and without parents, metadata, a date
// with a timezone) in obsstore format version, with real hg.
func makeMarkers(t *testing.T, version string) string {
	t.Helper()
	dir := initRepo(t, "r")
	cfg := []string{"--config", "experimental.evolution=createmarkers", "--config", "format.obsstore-version=" + version}
	for i, c := range []string{"a", "b", "c"} {
		writeFile(t, filepath.Join(dir, "f"), c)
		if i == 0 {
			runHg(t, dir, "add", "f")
		}
		runHg(t, dir, "commit", "-m", c, "-d", "0 0")
	}
	node := func(rev string) string {
		return strings.TrimSpace(string(runHg(t, dir, "log", "--hidden", "-r", rev, "-T", "{node}")))
	}
	n0, n1, n2 := node("0"), node("1"), node("2")
	ones, twos := strings.Repeat("1", 40), strings.Repeat("2", 40)
	obs := func(args ...string) { runHg(t, dir, append(append(cfg, "debugobsolete"), args...)...) }
	obs("-d", "1700000000 -3600", "-u", "alice", "--", n2, ones)
	obs("-d", "12 7200", "--flags", "1", "--", n1, ones, twos)
	obs("--record-parents", "-d", "5 0", "--", n2)
	obs("-d", "0 0", "--", ones)
	obs("--record-parents", "-d", "3 0", "--", n0) // a root: recorded, no parent
	return dir
}

func TestObsstoreMatchesHg(t *testing.T) {
	requireHg(t)
	for _, version := range []string{"0", "1"} {
		t.Run("v"+version, func(t *testing.T) {
			dir := makeMarkers(t, version)
			raw, err := os.ReadFile(filepath.Join(dir, ".hg", "store", "obsstore"))
			if err != nil {
				t.Fatal(err)
			}
			if raw[0] != version[0]-'0' {
				t.Fatalf("obsstore version byte %d, want %s", raw[0], version)
			}
			var want []hgMarker
			out := runHg(t, dir, "--config", "experimental.evolution=createmarkers", "debugobsolete", "-Tjson")
			if err := json.Unmarshal(out, &want); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			r, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := r.Markers()
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) || len(got) != 5 {
				t.Fatalf("%d markers, hg lists %d (want 5)", len(got), len(want))
			}
			for i, w := range want {
				g := got[i]
				if g.Prec.String() != w.Prednode {
					t.Errorf("marker %d: prec %s, hg %s", i, g.Prec, w.Prednode)
				}
				var succs []string
				for _, s := range g.Succs {
					succs = append(succs, s.String())
				}
				if strings.Join(succs, ",") != strings.Join(w.Succnodes, ",") {
					t.Errorf("marker %d: succs %v, hg %v", i, succs, w.Succnodes)
				}
				if int(g.Flags) != w.Flag {
					t.Errorf("marker %d: flags %d, hg %d", i, g.Flags, w.Flag)
				}
				if w.Parentnodes == nil {
					if g.Parents != nil {
						t.Errorf("marker %d: parents %v, hg records none", i, g.Parents)
					}
				} else {
					var ps []string
					for _, p := range g.Parents {
						ps = append(ps, p.String())
					}
					if g.Parents == nil || strings.Join(ps, ",") != strings.Join(*w.Parentnodes, ",") {
						t.Errorf("marker %d: parents %v (nil %v), hg %v", i, ps, g.Parents == nil, *w.Parentnodes)
					}
				}
				_, off := g.Date.Zone()
				if float64(g.Date.UnixNano())/1e9 != w.Date[0] || -off != int(w.Date[1]) {
					t.Errorf("marker %d: date %v (offset %d), hg %v", i, g.Date, -off, w.Date)
				}
				if !reflect.DeepEqual(nonEmpty(g.Meta), nonEmpty(w.Metadata)) {
					t.Errorf("marker %d: meta %v, hg %v", i, g.Meta, w.Metadata)
				}
			}
			writeSeed(t, "hg-v"+version, raw)
		})
	}
}

func nonEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// writeSeed keeps raw as a seed of FuzzObsstore when SEED_CORPUS is set
// (the seeds in testdata were made this way).
func writeSeed(t *testing.T, name string, raw []byte) {
	if os.Getenv("SEED_CORPUS") == "" {
		return
	}
	p := filepath.Join("testdata", "fuzz", "FuzzObsstore", name)
	if err := os.WriteFile(p, []byte("go test fuzz v1\n[]byte("+quoteGo(raw)+")\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func quoteGo(b []byte) string {
	var sb strings.Builder
	sb.WriteByte('"')
	for _, c := range b {
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			sb.WriteByte(c)
		} else {
			sb.WriteString("\\x")
			sb.WriteString("0123456789abcdef"[c>>4 : c>>4+1])
			sb.WriteString("0123456789abcdef"[c&15 : c&15+1])
		}
	}
	sb.WriteByte('"')
	return sb.String()
}

func TestParseObsstoreErrors(t *testing.T) {
	for name, data := range map[string][]byte{
		"version":          {7},
		"fm1 short header": {1, 0, 0, 0},
		"fm1 size small":   append([]byte{1, 0, 0, 0, 3}, make([]byte, 20)...),
		"fm1 size big":     append([]byte{1, 0, 0, 1, 0}, make([]byte, 40)...),
		"fm1 nodes exceed": append([]byte{1, 0, 0, 0, 39}, append(make([]byte, 12), 0, 0, 5, 3, 0)...),
		"fm0 short":        {0, 1, 0, 0},
		"fm0 meta":         append([]byte{0, 0, 0, 0, 0, 9, 0}, make([]byte, 20)...),
		"fm0 no colon":     append(append([]byte{0, 0, 0, 0, 0, 3, 0}, make([]byte, 20)...), 'a', 'b', 'c'),
	} {
		if ms, err := ParseObsstore(data); err == nil {
			t.Errorf("%s: no error, %d markers", name, len(ms))
		} else if !strings.Contains(err.Error(), "obsstore") {
			t.Errorf("%s: error %q does not name the obsstore", name, err)
		}
	}
	if ms, err := ParseObsstore(nil); err != nil || ms != nil {
		t.Errorf("empty: %v %v", ms, err)
	}
	if ms, err := ParseObsstore([]byte{1}); err != nil || len(ms) != 0 {
		t.Errorf("header only: %v %v", ms, err)
	}
}

func FuzzObsstore(f *testing.F) {
	f.Add([]byte{1})
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := ParseObsstore(data)
		if err != nil {
			return
		}
		if len(ms)*27 > len(data) {
			t.Fatalf("%d markers from %d bytes", len(ms), len(data))
		}
		st := &SourceState{Markers: ms}
		for _, m := range ms {
			st.Successors(m.Prec)
		}
		keys := make([]string, 0)
		for _, m := range ms {
			for k := range m.Meta {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
	})
}
