package hook

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode"
)

// fuzzParser feeds body and content type to parse with the given event
// headers and checks the parser's guarantees: no panic, an event only with
// clean fields, otherwise an *Error or ErrIgnored with a known status.
func fuzzParser(f *testing.F, parse Parser, headers []string, cfg Config) {
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		r := request(body, contentType, headers...)
		ev, err := parse(r, cfg)
		if err != nil {
			if ev != nil {
				t.Fatal("event returned with an error")
			}
			var he *Error
			switch {
			case errors.Is(err, ErrIgnored):
			case errors.As(err, &he):
				switch he.Status {
				case http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
				default:
					t.Fatalf("status %d: %v", he.Status, err)
				}
			default:
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		for _, s := range append([]string{ev.Repository, ev.Owner, ev.Name, ev.CloneURL, ev.Node, ev.DeliveryID, ev.Pusher}, ev.Refs...) {
			if strings.IndexFunc(s, unicode.IsControl) >= 0 {
				t.Fatalf("control character in %q", s)
			}
		}
		for _, s := range append([]string{ev.Repository, ev.Owner, ev.Name}, ev.Refs...) {
			for _, seg := range strings.Split(s, "/") {
				if strings.HasPrefix(strings.TrimSpace(seg), "-") {
					t.Fatalf("dash in %q", s)
				}
			}
		}
		if ev.Repository == "" && ev.CloneURL == "" {
			t.Fatal("event without repository")
		}
		if ev.CloneURL != "" {
			if _, err := syntax.Check(r.Context(), ev.CloneURL); err != nil {
				t.Fatalf("clone URL %q accepted: %v", ev.CloneURL, err)
			}
		}
		if ev.SCM != "" && ev.SCM != "hg" && ev.SCM != "git" {
			t.Fatalf("SCM %q", ev.SCM)
		}
		if ev.Commits < 0 || len(ev.Refs) > maxRefs {
			t.Fatalf("commits %d, %d refs", ev.Commits, len(ev.Refs))
		}
	})
}

// small keeps fuzz inputs cheap while exercising the 413 path.
var fuzzCfg = Config{Enabled: true, MaxBody: 64 << 10}

func FuzzLegacy(f *testing.F) {
	f.Add([]byte(`{"canon_url":"https://bitbucket.org","repository":{"absolute_url":"/o/r/","scm":"hg"}}`), "application/json")
	f.Add([]byte(`payload=%7B%22repository%22%3A%7B%22absolute_url%22%3A%22%2Fo%2Fr%2F%22%7D%7D`), "application/x-www-form-urlencoded")
	fuzzParser(f, ParseBitbucketLegacy, nil, fuzzCfg)
}

func FuzzBitbucket(f *testing.F) {
	f.Add([]byte(`{"repository":{"full_name":"o/r","scm":"hg"},"push":{"changes":[{"new":{"type":"branch","name":"main"}}]}}`), "application/json")
	fuzzParser(f, ParseBitbucket, []string{"X-Event-Key: repo:push"}, fuzzCfg)
}

func FuzzGitHub(f *testing.F) {
	f.Add([]byte(`{"ref":"refs/heads/main","repository":{"full_name":"o/r","clone_url":"https://github.com/o/r.git"}}`), "application/json")
	fuzzParser(f, ParseGitHub, []string{"X-GitHub-Event: push"}, fuzzCfg)
}

func FuzzGitLab(f *testing.F) {
	f.Add([]byte(`{"object_kind":"push","ref":"refs/heads/main","project":{"path_with_namespace":"g/r","git_http_url":"https://gitlab.com/g/r.git"}}`), "application/json")
	fuzzParser(f, ParseHeptapod, []string{"X-Gitlab-Event: Push Hook"}, fuzzCfg)
}

func FuzzGitea(f *testing.F) {
	f.Add([]byte(`{"ref":"refs/heads/main","repository":{"full_name":"o/r","clone_url":"https://gitea.com/o/r.git","owner":{"login":"o"}}}`), "application/json")
	fuzzParser(f, ParseForgejo, []string{"X-Forgejo-Event: push"}, fuzzCfg)
}

func FuzzGeneric(f *testing.F) {
	f.Add([]byte(`{"repository":"hub","url":"https://hg.example.org/hub","scm":"hg"}`), "application/json")
	f.Add([]byte(`repository=hub&url=https%3A%2F%2Fhg.example.org%2Fhub&node=e7abfeb787b0&ref=default`), "application/x-www-form-urlencoded")
	fuzzParser(f, ParseGeneric, []string{"Authorization: Bearer " + secret}, Config{Enabled: true, Secret: secret, MaxBody: 64 << 10})
}
