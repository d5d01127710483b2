package hook

import (
	"bytes"
	"errors"
	"mime/multipart"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestBitbucketLegacyRealPayloads(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want PushEvent
	}{
		{"bitbucket-legacy/hg-push-elevenbits-hub.json", PushEvent{
			Provider: "bitbucket-legacy", SCM: "hg", Repository: "elevenbits/hub", Owner: "elevenbits", Name: "hub",
			CloneURL: "https://bitbucket.org/elevenbits/hub", Refs: []string{"default"}, Commits: 1, Private: true,
			Node: "e7abfeb787b014a87f80d91701ab4a3b74575a32", Pusher: "elevenbits",
		}},
		{"bitbucket-legacy/git-push-larhauga-posthooktest.json", PushEvent{
			Provider: "bitbucket-legacy", SCM: "git", Repository: "larhauga/posthooktest", Owner: "larhauga", Name: "posthooktest",
			CloneURL: "https://bitbucket.org/larhauga/posthooktest", Refs: []string{"refs/heads/master"}, Commits: 1, Private: true,
			Node: "b40227fabf7579e235cb2b4e17bff2a932295ed4", Pusher: "larhauga",
		}},
		{"bitbucket-legacy/git-push-arifsetiawan-jepretdummy.json", PushEvent{
			Provider: "bitbucket-legacy", SCM: "git", Repository: "arifsetiawan/jepretdummy", Owner: "arifsetiawan", Name: "jepretdummy",
			CloneURL: "https://bitbucket.org/arifsetiawan/jepretdummy", Refs: []string{"refs/heads/master"}, Commits: 1, Private: true,
			Node: "2785bd518005be99fca594683d0b75a56c0e62f7", Pusher: "arifsetiawan",
		}},
	}
	for _, tt := range tests {
		payload := readShared(t, tt.file)
		// As Bitbucket sent it (form field), and as a raw body with
		// several content types.
		reqs := map[string]*http.Request{
			"form":       request(formBody(string(payload)), "application/x-www-form-urlencoded"),
			"form+utf8":  request(formBody(string(payload)), "application/x-www-form-urlencoded; charset=utf-8"),
			"json":       request(payload, "application/json"),
			"text/plain": request(payload, "text/plain"),
			"none":       request(payload, ""),
			"multipart":  multipartRequest(t, "payload", string(payload)),
		}
		for kind, r := range reqs {
			t.Run(tt.file+"/"+kind, func(t *testing.T) {
				ev, err := ParseBitbucketLegacy(r, enabled)
				if err != nil {
					t.Fatal(err)
				}
				checkEvent(t, ev, tt.want)
			})
		}
	}
}

func multipartRequest(t *testing.T, field, value string) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if err := w.WriteField("other", "x"); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteField(field, value); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return request(buf.Bytes(), w.FormDataContentType())
}

func checkEvent(t *testing.T, got *PushEvent, want PushEvent) {
	t.Helper()
	if got == nil {
		t.Fatal("nil event")
	}
	g := *got
	if !slices.Equal(g.Refs, want.Refs) {
		t.Errorf("Refs = %q, want %q", g.Refs, want.Refs)
	}
	g.Refs, want.Refs = nil, nil
	if !reflect.DeepEqual(g, want) {
		t.Errorf("event =\n %+v\nwant\n %+v", g, want)
	}
}

func TestBitbucketLegacyCheckSCM(t *testing.T) {
	t.Parallel()
	hg, err := ParseBitbucketLegacy(request(readShared(t, "bitbucket-legacy/hg-push-elevenbits-hub.json"), "application/json"), enabled)
	if err != nil {
		t.Fatal(err)
	}
	if err := hg.CheckSCM("hg"); err != nil {
		t.Errorf("hg push refused: %v", err)
	}
	git, err := ParseBitbucketLegacy(request(readShared(t, "bitbucket-legacy/git-push-larhauga-posthooktest.json"), "application/json"), enabled)
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, git.CheckSCM("hg"), http.StatusBadRequest, `larhauga/posthooktest has scm "git"`)
}

func TestBitbucketLegacyErrors(t *testing.T) {
	t.Parallel()
	valid := string(readShared(t, "bitbucket-legacy/hg-push-elevenbits-hub.json"))
	withRepo := func(repo string) string {
		return `{"canon_url":"https://bitbucket.org","repository":` + repo + `,"commits":[]}`
	}
	tests := []struct {
		name        string
		r           *http.Request
		cfg         Config
		status      int
		msg         string
		wantIgnored bool
	}{
		// The original django-synchroniser suite's three bad requests.
		{name: "empty POST", r: request(nil, ""), status: 400, msg: "no JSON payload"},
		{name: "empty form", r: request(nil, "application/x-www-form-urlencoded"), status: 400, msg: "no JSON payload"},
		{name: "valid JSON without repository", r: request([]byte(`{ "invalid": "json" }`), "application/json"), status: 400, msg: `no "repository" field`},
		{name: "valid JSON without repository as form", r: request(formBody(`{ "invalid": "json" }`), "application/x-www-form-urlencoded"), status: 400, msg: `no "repository" field`},
		{name: "invalid JSON as text/plain", r: request([]byte(`{ "invalid": "json }`), "text/plain"), status: 400, msg: "invalid JSON payload: unexpected end of JSON input"},
		{name: "truncated JSON", r: request([]byte(valid[:len(valid)/2]), "application/json"), status: 400, msg: "invalid JSON payload"},
		{name: "truncated JSON in form", r: request(formBody(strings.TrimSpace(valid)[:len(strings.TrimSpace(valid))-1]), "application/x-www-form-urlencoded"), status: 400, msg: "invalid JSON payload"},
		{name: "empty payload field", r: request([]byte("payload="), "application/x-www-form-urlencoded"), status: 400, msg: "no JSON payload"},
		{name: "blank payload field", r: request([]byte("payload=+%20"), "application/x-www-form-urlencoded"), status: 400, msg: "no JSON payload"},
		{name: "form without payload", r: request([]byte("foo=bar"), "application/x-www-form-urlencoded"), status: 400, msg: `no "payload" field`},
		{name: "malformed form encoding", r: request([]byte("payload=%zz"), "application/x-www-form-urlencoded"), status: 400, msg: "malformed form encoding"},
		{name: "malformed form encoding 2", r: request([]byte("payload=%"), "application/x-www-form-urlencoded"), status: 400, msg: "malformed form encoding"},
		{name: "multipart without boundary", r: request([]byte("x"), "multipart/form-data"), status: 400, msg: "malformed form encoding"},
		{name: "multipart without parts", r: request([]byte("garbage"), "multipart/form-data; boundary=zz"), status: 400, msg: "no JSON payload"},
		{name: "multipart bad header", r: request([]byte("--zz\r\nno colon here\r\n\r\nx\r\n--zz--\r\n"), "multipart/form-data; boundary=zz"), status: 400, msg: "malformed form encoding"},
		{name: "JSON array", r: request([]byte(`[1,2]`), "application/json"), status: 400, msg: "invalid JSON payload"},
		{name: "JSON null", r: request([]byte(`null`), "application/json"), status: 400, msg: `no "repository" field`},
		{name: "trailing garbage", r: request([]byte(valid+"x"), "application/json"), status: 400, msg: "invalid JSON payload"},
		{name: "wrong type", r: request([]byte(withRepo(`{"absolute_url": 5}`)), "application/json"), status: 400, msg: "invalid JSON payload"},
		{name: "repository without url", r: request([]byte(withRepo(`{"name":"x"}`)), "application/json"), status: 400, msg: `"repository.absolute_url"`},
		{name: "absolute_url not a path", r: request([]byte(withRepo(`{"absolute_url":"evil.example/x/"}`)), "application/json"), status: 400, msg: "must be a path"},
		{name: "absolute_url network path", r: request([]byte(withRepo(`{"absolute_url":"//evil.example/x/"}`)), "application/json"), status: 400, msg: "must be a path"},
		{name: "dash owner", r: request([]byte(withRepo(`{"absolute_url":"/-oProxyCommand=touch x/hub/","owner":"-oProxyCommand=touch x","slug":"hub"}`)), "application/json"), status: 400, msg: `beginning with "-"`},
		{name: "dash slug", r: request([]byte(withRepo(`{"absolute_url":"/o/-u/","owner":"o","slug":"-u"}`)), "application/json"), status: 400, msg: `beginning with "-"`},
		{name: "ext transport canon_url", r: request([]byte(`{"canon_url":"ext::sh -c touch% /tmp/pwned","repository":{"absolute_url":"/o/r/"}}`), "application/json"), status: 400, msg: "invalid repository URL"},
		{name: "ssh ProxyCommand canon_url", r: request([]byte(`{"canon_url":"ssh://-oProxyCommand=x","repository":{"absolute_url":"/o/r/"}}`), "application/json"), status: 400, msg: "invalid repository URL"},
		{name: "file canon_url", r: request([]byte(`{"canon_url":"file://","repository":{"absolute_url":"/etc/passwd/"}}`), "application/json"), status: 400, msg: "invalid repository URL"},
		{name: "credentials canon_url", r: request([]byte(`{"canon_url":"https://u:p@bitbucket.org","repository":{"absolute_url":"/o/r/"}}`), "application/json"), status: 400, msg: "invalid repository URL"},
		{name: "control char in name", r: request([]byte(withRepo(`{"absolute_url":"/o/r\n/"}`)), "application/json"), status: 400, msg: "control character"},
		{name: "dotdot in path", r: request([]byte(withRepo(`{"absolute_url":"/o/../r/"}`)), "application/json"), status: 400, msg: `".."`},
		{name: "deeply nested", r: request(deepJSON(10000), "application/json"), status: 400, msg: "nested deeper than 64"},
		{name: "huge body", r: request(hugeBody(), "application/json"), status: 413, msg: "exceeds the limit"},
		{name: "small limit", r: request([]byte(valid), "application/json"), cfg: Config{Enabled: true, MaxBody: 100}, status: 413, msg: "exceeds the limit of 100 bytes"},
		{name: "gzip", r: request([]byte(valid), "application/json", "Content-Encoding: gzip"), status: 415, msg: "Content-Encoding"},
		{name: "disabled", r: request([]byte(valid), "application/json"), cfg: Config{}, status: 404, msg: "not enabled"},
		{name: "GET", r: func() *http.Request { r := request(nil, ""); r.Method = http.MethodGet; return r }(), status: 405, msg: "POSTed"},
		{name: "missing token", r: request([]byte(valid), "application/json"), cfg: Config{Enabled: true, Secret: "s3cret"}, status: 401, msg: `missing "token"`},
		{name: "wrong token", r: func() *http.Request {
			r := request([]byte(valid), "application/json")
			r.URL.RawQuery = "token=nope"
			return r
		}(), cfg: Config{Enabled: true, Secret: "s3cret"}, status: 401, msg: `wrong "token"`},
		{name: "body read error", r: func() *http.Request {
			r := request(nil, "application/json")
			r.Body = errReaderCloser{strings.NewReader(valid[:10])}
			r.ContentLength = -1
			return r
		}(), status: 400, msg: "read body: connection reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			if cfg == (Config{}) && tt.status != 404 {
				cfg = enabled
			}
			ev, err := ParseBitbucketLegacy(tt.r, cfg)
			if ev != nil {
				t.Errorf("event %+v returned with error", ev)
			}
			wantError(t, err, tt.status, tt.msg)
			if errors.Is(err, ErrIgnored) {
				t.Error("bad request reported as ignored")
			}
		})
	}
}

func TestBitbucketLegacyToken(t *testing.T) {
	t.Parallel()
	r := request(readShared(t, "bitbucket-legacy/hg-push-elevenbits-hub.json"), "application/json")
	r.URL.RawQuery = "token=s3cret"
	ev, err := ParseBitbucketLegacy(r, Config{Enabled: true, Secret: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Repository != "elevenbits/hub" {
		t.Errorf("Repository = %q", ev.Repository)
	}
}

func TestBitbucketLegacyVariants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       PushEvent
	}{
		// No canon_url, no absolute_url: built from owner and slug.
		{"owner and slug", `{"repository":{"owner":"marcus","slug":"project-x","name":"Project X","scm":"hg"}}`, PushEvent{
			Provider: "bitbucket-legacy", SCM: "hg", Repository: "marcus/project-x", Owner: "marcus", Name: "project-x",
			CloneURL: "https://bitbucket.org/marcus/project-x",
		}},
		// Owner as an object, self-hosted canon_url with a trailing slash.
		{"owner object", `{"canon_url":"https://bb.example.org/","repository":{"absolute_url":"/team/repo/","owner":{"username":"team"},"scm":"Mercurial"},"commits":[{"branch":"stable"},{"branch":"default"},{"branch":"stable"}]}`, PushEvent{
			Provider: "bitbucket-legacy", SCM: "hg", Repository: "team/repo", Owner: "team", Name: "repo",
			CloneURL: "https://bb.example.org/team/repo", Refs: []string{"stable", "default"}, Commits: 3,
		}},
		{"unknown scm", `{"repository":{"absolute_url":"/a/b/","scm":"svn"}}`, PushEvent{
			Provider: "bitbucket-legacy", Repository: "a/b", Owner: "a", Name: "b", CloneURL: "https://bitbucket.org/a/b",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := ParseBitbucketLegacy(request([]byte(tt.body), "application/json"), enabled)
			if err != nil {
				t.Fatal(err)
			}
			checkEvent(t, ev, tt.want)
		})
	}
}

type errReaderCloser struct{ r *strings.Reader }

func (e errReaderCloser) Read(p []byte) (int, error) { return errReader{e.r}.Read(p) }
func (e errReaderCloser) Close() error               { return nil }

func TestRegistry(t *testing.T) {
	t.Parallel()
	if _, ok := Lookup("bitbucket-legacy"); !ok {
		t.Fatal("bitbucket-legacy not registered")
	}
	want := []string{"bitbucket", "bitbucket-legacy", "forgejo", "generic", "gitea", "github", "gitlab", "gogs", "heptapod"}
	if !slices.Equal(Providers(), want) {
		t.Errorf("Providers() = %q, want %q", Providers(), want)
	}
	for _, name := range want {
		// Every registered parser answers a disabled provider with 404.
		_, err := Parse(name, request(nil, ""), Config{})
		wantError(t, err, http.StatusNotFound, "not enabled")
	}
	_, err := Parse("nope", request(nil, ""), enabled)
	wantError(t, err, http.StatusNotFound, `unknown webhook provider "nope"`)
	ev, err := Parse("bitbucket-legacy", request(readShared(t, "bitbucket-legacy/hg-push-elevenbits-hub.json"), "text/plain"), enabled)
	if err != nil || ev.Repository != "elevenbits/hub" {
		t.Fatalf("Parse = %+v, %v", ev, err)
	}
	if StatusOf(nil) != 200 || StatusOf(ErrIgnored) != 202 || StatusOf(ErrPing) != 202 || StatusOf(errors.New("x")) != 500 {
		t.Error("StatusOf")
	}
	if !errors.Is(ErrPing, ErrIgnored) {
		t.Error("ErrPing does not wrap ErrIgnored")
	}
}
