package convert

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// FuzzGitIdent checks that any Mercurial user name becomes a well-formed
// Git identity: "NAME <MAIL>" with no "<", ">" or newline inside either.
func FuzzGitIdent(f *testing.F) {
	for _, s := range []string{"", "a <b>", "x@y", "<<>>", " <a@b> ", "a <b>c>d", "a\n<b>", "J\xf6rg"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, user string) {
		if strings.Contains(user, "\n") {
			return // a changelog user cannot hold a newline
		}
		id := gitIdent(localUTF8(user))
		lt := strings.LastIndex(id, " <")
		if lt < 0 || !strings.HasSuffix(id, ">") {
			t.Fatalf("gitIdent(%q) = %q: not NAME <MAIL>", user, id)
		}
		name, mail := id[:lt], id[lt+2:len(id)-1]
		if strings.ContainsAny(name, "<>\n") || strings.ContainsAny(mail, "<>\n") {
			t.Fatalf("gitIdent(%q) = %q: brackets or newline inside", user, id)
		}
	})
}

// FuzzSubrepoState feeds arbitrary .hgsub and .hgsubstate texts to the
// parsers: they must not panic, and every entry must have a path.
func FuzzSubrepoState(f *testing.F) {
	f.Add("docs/_themes = [git]git://github.com/x/y.git", "11cb6b51c9ea3bc8f94afa3d7411b617f9db2570 docs/_themes\n")
	f.Add("a = a\n[section]\nb = [svn]http://x\n %include x\n%unset a\n", " docs/_themes\n")
	f.Add("\xef\xbb\xbfk = v\n  continued\n# c\n; c\nbad line\n", "x y\r\nz\n")
	f.Add("p = [git", "")
	f.Fuzz(func(t *testing.T, hgsub, hgsubstate string) {
		state, problems := subrepoState(hgsub, true, hgsubstate, true)
		for _, s := range state {
			if s.Path == "" {
				t.Fatalf("entry without path: %+v", s)
			}
		}
		for _, p := range problems {
			if p.Kind == "" || p.Message == "" {
				t.Fatalf("problem without kind or message: %+v", p)
			}
		}
	})
}

// FuzzCommitterExtra checks the "committer" extra parser against the shape
// of its output.
func FuzzCommitterExtra(f *testing.F) {
	for _, s := range []string{"A <a@b> 1500000000 -7200", "A 1 +0130", "A 1 +0300", "x", "a b c", "A 1_0 -0_0", "A 1 --100"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, c string) {
		out, ok := committerFromExtra(c)
		if !ok {
			return
		}
		if !strings.HasPrefix(c, out[:strings.LastIndexByte(out[:strings.LastIndexByte(out, ' ')], ' ')]) {
			t.Fatalf("committerFromExtra(%q) = %q: name not kept", c, out)
		}
	})
}

// FuzzMapFile reads arbitrary git-mapfile contents: no panic, and what is
// accepted is written back and read again to the same map.
func FuzzMapFile(f *testing.F) {
	f.Add([]byte("0123456789012345678901234567890123456789 0123456789012345678901234567890123456789\n"))
	f.Add([]byte("short line\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), MapFile)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := loadMap(path)
		if err != nil {
			return
		}
		if err := m.save(); err != nil {
			t.Fatal(err)
		}
		again, err := loadMap(path)
		if err != nil {
			t.Fatalf("reading back a saved map: %v", err)
		}
		if len(again.byHg) != len(m.byHg) {
			t.Fatalf("%d entries read back, want %d", len(again.byHg), len(m.byHg))
		}
		for n, h := range m.byHg {
			if again.byHg[n] != h {
				t.Fatalf("entry %s changed", n)
			}
		}
	})
}

// FuzzParseAuthors checks the authors file parser against the rule it
// follows: every non-comment line has exactly one "=", and each translation
// read back has no surrounding whitespace where hg-git strips it.
func FuzzParseAuthors(f *testing.F) {
	for _, s := range []string{"a = b\n", "# c\n\n a=b \r\nc = d <e>\n", "x = y = z", "no equals", "=\n", "a\t=\t\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseAuthors("fuzz", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz:") {
				t.Fatalf("error %q does not name the file and line", err)
			}
			return
		}
		for from, to := range m {
			if strings.ContainsAny(from, "=\n") || strings.ContainsAny(to, "=\n") {
				t.Fatalf("translation %q = %q holds a separator", from, to)
			}
			if strings.TrimRight(from, asciiSpace) != from || strings.TrimLeft(to, asciiSpace) != to {
				t.Fatalf("translation %q = %q keeps whitespace hg-git strips", from, to)
			}
		}
	})
}

// FuzzGitConfig feeds arbitrary .gitmodules texts to the dulwich-style
// parser: it must not panic, and what it writes must read back the same.
func FuzzGitConfig(f *testing.F) {
	for _, s := range []string{"[submodule \"a\"]\n\tpath = a\n\turl = u\n", "[core]\nx\n", "[a.b]\nk = \"v # x\" ; c\n", "[s \"\"]\nk = a\\\nb\n", "\xef\xbb\xbf[x]k=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		g, err := parseGitConfig(text)
		if err != nil {
			return
		}
		g.submodules()
		out := g.bytes()
		if strings.ContainsAny(text, "\r\x00]\"\\") {
			return // subsection names and keys are written raw, as dulwich does
		}
		g2, err := parseGitConfig(string(out))
		if err != nil {
			t.Fatalf("written %q does not read back: %v", out, err)
		}
		if string(g2.bytes()) != string(out) {
			t.Fatalf("round trip: %q then %q", out, g2.bytes())
		}
	})
}

// FuzzStateDecode decodes arbitrary state files: no panic, no allocation
// beyond the input's size (every count is checked against what is left),
// and a state that decodes is encoded and decoded again to an equal one.
// The seeds (testdata/fuzz/FuzzStateDecode) are states of small
// conversions and truncations of them (TestWriteStateSeeds).
func FuzzStateDecode(f *testing.F) {
	f.Add([]byte(stateMagic))
	f.Add([]byte(stateMagic + "\x0a\x00"))
	// Huge declared counts: a list of 2^62 heads, a 2^62-byte string.
	f.Add([]byte(stateMagic + "\x0a\x00" + strings.Repeat("\x00", 20) + "\x00" + strings.Repeat("\x00", 20) + "\xfe\xff\xff\xff\xff\xff\xff\xff\x7f"))
	f.Add([]byte(stateMagic + "\x0a\x00" + strings.Repeat("\x00", 20) + "\x00" + strings.Repeat("\x00", 20) + "\x01\x00\xfe\xff\xff\xff\xff\xff\xff\xff\x7f"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		st := decodeState(data)
		runtime.ReadMemStats(&after)
		// Each element of a list takes a byte of input or more, and the
		// largest element (dirState, bookmarkState) under 100 bytes.
		if n := after.TotalAlloc - before.TotalAlloc; n > 128*uint64(len(data))+1<<20 {
			t.Fatalf("decoding %d bytes allocated %d", len(data), n)
		}
		if st == nil {
			return
		}
		if st.Version != stateVersion {
			t.Fatalf("state of version %d accepted", st.Version)
		}
		again := decodeState(st.encode())
		if again == nil {
			t.Fatal("an encoded state does not decode")
		}
		st.encodedSize, again.encodedSize = 0, 0
		if !reflect.DeepEqual(st, again) {
			t.Fatalf("round trip:\n%+v\nthen\n%+v", st, again)
		}
	})
}
