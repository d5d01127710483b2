package mirror

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"repo": true, "a.b_c-d": true, "A1": true, "-x": true,
		"": false, ".": false, "..": false, "a/b": false, "a b": false, "é": false,
		strings.Repeat("a", 200): true, strings.Repeat("a", 201): false,
	} {
		if got := ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestNameFor(t *testing.T) {
	t.Parallel()
	for src, want := range map[string]string{
		"https://hg.example.org/owner/repo":    "hg.example.org-owner-repo",
		"https://user:pw@hg.example.org/repo/": "hg.example.org-repo",
		"http://127.0.0.1:8000/":               "127.0.0.1-8000",
		"ssh://hg@example.org//srv/../x.git":   "example.org-srv-x",
		"/tmp/some dir/repo":                   "tmp-some-dir-repo",
		"file:///srv/hg/r":                     "srv-hg-r",
		"https://example.org/../../etc?q=1#f":  "example.org-etc",
		"":                                     NameFor(""),
		strings.Repeat("/a", 300):              strings.Repeat("a-", 99) + "a",
	} {
		got := NameFor(src)
		if got != want {
			t.Errorf("NameFor(%q) = %q, want %q", src, got, want)
		}
		if !ValidName(got) {
			t.Errorf("NameFor(%q) = %q: not a valid name", src, got)
		}
	}
}

func FuzzNameFor(f *testing.F) {
	f.Add("https://hg.example.org/repo")
	f.Add("/a/../b")
	f.Fuzz(func(t *testing.T, s string) {
		if n := NameFor(s); !ValidName(n) {
			t.Fatalf("NameFor(%q) = %q, invalid", s, n)
		}
	})
}

// TestDestinationHidesToken: a destination's token shows in no string,
// log record or JSON made of it (its URLs go through command.Redact, tested
// there).
func TestDestinationHidesToken(t *testing.T) {
	t.Parallel()
	d := Destination{URL: "https://u:tok@h/x", Token: "tok"}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	log.Info("x", "dest", d, "mirror", Mirror{Name: "n", Dest: d})
	for _, s := range []string{d.String(), fmt.Sprint(d), fmt.Sprintf("%v", Mirror{Name: "n", Dest: d}), logs.String()} {
		if strings.Contains(s, "tok") {
			t.Errorf("secret shown: %s", s)
		}
	}
	// JSON (an API answer built carelessly) leaves the token out.
	if js, _ := json.Marshal(Destination{URL: "https://h/x", Token: "s3cret"}); strings.Contains(string(js), "s3cret") {
		t.Errorf("token in JSON: %s", js)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := Mirror{Name: "r", SCM: "hg", Source: "/x", Dest: Destination{URL: "/y"}, Policy: DefaultPolicy()}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(*Mirror){
		"name":       func(m *Mirror) { m.Name = "../x" },
		"scm":        func(m *Mirror) { m.SCM = "svn" },
		"source":     func(m *Mirror) { m.Source = "" },
		"dest":       func(m *Mirror) { m.Dest.URL = "" },
		"glob":       func(m *Mirror) { m.Policy.Refs = []string{"refs/["} },
		"tip branch": func(m *Mirror) { m.Policy.TipBranch = "a..b" },
	} {
		m := ok
		change(&m)
		if err := m.Validate(); ClassOf(err) != BadRequest || err == nil {
			t.Errorf("%s: Validate = %v (class %v), want a BadRequest error", name, err, ClassOf(err))
		}
	}
}

func TestClassOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err    error
		class  Class
		status int
		retry  bool
	}{
		{&Error{Op: "push", Class: BadRequest, Err: errors.New("x")}, BadRequest, 400, false},
		{fmt.Errorf("wrapped: %w", &Error{Class: Transient, Err: errors.New("x")}), Transient, 500, true},
		{&Error{Class: Permanent, Err: errors.New("x")}, Permanent, 500, false},
		{errors.New("plain"), Internal, 500, false},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), Transient, 500, true},
	}
	for _, tt := range tests {
		c := ClassOf(tt.err)
		if c != tt.class || c.HTTPStatus() != tt.status || c.Retry() != tt.retry {
			t.Errorf("ClassOf(%v) = %v (%d, retry %v), want %v (%d, %v)", tt.err, c, c.HTTPStatus(), c.Retry(), tt.class, tt.status, tt.retry)
		}
	}
	d := &Error{Op: "push", Class: BadRequest, Err: &DivergedError{Refs: []RefUpdate{{Ref: "refs/heads/master"}}}}
	if !errors.Is(d, ErrDiverged) || !strings.Contains(d.Error(), "refs/heads/master") {
		t.Errorf("divergence error %q: not ErrDiverged or ref not named", d)
	}
}
