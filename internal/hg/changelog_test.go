package hg

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"time"

	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// latin1 maps bytes to runes one to one, as decode.py does.
func latin1(s string) string {
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

func fromLatin1(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = append(b, byte(r))
	}
	return string(b)
}

// hgPython returns the Python interpreter hg runs with.
func hgPython(t *testing.T) string {
	t.Helper()
	out := runHg(t, "", "debuginstall", "-T", "{pythonexe}")
	return strings.TrimSpace(string(out))
}

func TestParseChangesetMatchesMercurial(t *testing.T) {
	requireHg(t)
	t.Parallel()
	const mf = "0123456789abcdef0123456789abcdef01234567\n"
	texts := []string{
		mf + "Jo <jo@example.com>\n1400000000 -3600\nsrc/a.go\nb c.txt\n\nsummary\n\nbody",
		mf + "u\n1400000000 0\n\ndescription only",
		mf + "u\n1400000000.75 7200\na\n\n",
		mf + "u\n-1.5 0\na\n\nnegative float time",
		mf + "u\n1400000000 bogus\na\n\nbad timezone",
		mf + "u\n1400000000 0 branch:stable\x00close:1\na\n\nextras",
		mf + "u\n1400000000 0 branch:a\\\\b\x00k:x\\ny\\0z\\x41\\101\\q\x00empty:\na\n\nescapes",
		mf + "u\n1400000000 0 k:\\\\0\x00j:\\\\\\0x\na\n\nbackslash zero",
		mf + "u\n1400000000 0 k:tab\\there\\r\\a\\'\\\"\na\n\nmore escapes",
		mf + "u\n1400000000 0 \n\n\nempty extra field",
		mf + "u\n0 0\n\n\n\n\nleading blank lines in description",
		mf + "u\n1 0 nocolon\na\n\nextra without a colon",
		mf + "u\n1 0 k:trailing\\\na\n\ntrailing backslash",
		mf + "J\xf6rg \xff <j@example.com>\n1 0\nfile\xe9\n\nlatin-1 bytes \xe9",
	}
	in, _ := json.Marshal(func() []string {
		var l []string
		for _, s := range texts {
			l = append(l, latin1(s))
		}
		return l
	}())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, hgPython(t), "testdata/changelog/decode.py")
	cmd.Env = hgtest.Env()
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("decode.py: %v", err)
	}
	var want []struct {
		Error       string            `json:"error"`
		Manifest    string            `json:"manifest"`
		User        string            `json:"user"`
		Time        int64             `json:"time"`
		TZ          int               `json:"tz"`
		Extra       map[string]string `json:"extra"`
		Files       []string          `json:"files"`
		Description string            `json:"description"`
	}
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	for i, text := range texts {
		w := want[i]
		c, err := ParseChangeset([]byte(text))
		if w.Error != "" {
			if err == nil {
				t.Errorf("text %d: Mercurial fails (%s), ParseChangeset succeeds", i, w.Error)
			}
			continue
		}
		if err != nil {
			t.Errorf("text %d: %v", i, err)
			continue
		}
		extra := map[string]string{"branch": "default"}
		for k, v := range c.Extra {
			extra[latin1(k)] = latin1(v)
		}
		var files []string
		for _, f := range c.Files {
			files = append(files, latin1(f))
		}
		if c.Manifest.String() != w.Manifest || latin1(c.User) != w.User || c.Time != w.Time || c.TZ != w.TZ ||
			latin1(c.Description) != w.Description || strings.Join(files, "|") != strings.Join(w.Files, "|") {
			t.Errorf("text %d:\n got %+v\nwant %+v", i, c, w)
		}
		if len(extra) != len(w.Extra) {
			t.Errorf("text %d: extra %q, want %q", i, extra, w.Extra)
		}
		for k, v := range w.Extra {
			if extra[k] != v {
				t.Errorf("text %d: extra[%q] = %q, want %q", i, fromLatin1(k), fromLatin1(extra[k]), fromLatin1(v))
			}
		}
	}
}
