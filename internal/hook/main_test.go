package hook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// sharedWebhooks holds the real payloads recorded for the project, read in
// place: the repository lives at /work/main, the payloads at /work/shared.
const sharedWebhooks = "../../../shared/webhooks"

func readShared(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sharedWebhooks, name))
	if err != nil {
		t.Fatalf("read shared payload (expected beside the repository): %v", err)
	}
	return data
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// request builds a POST with body, content type and headers ("K: V" pairs).
func request(body []byte, contentType string, headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/hooks/x", bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		r.Header.Set(k, v)
	}
	return r
}

func formBody(payload string) []byte {
	return []byte(url.Values{"payload": {payload}}.Encode())
}

func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// wantError checks that err is an *Error with status and a message
// containing msg.
func wantError(t *testing.T, err error, status int, msg string) {
	t.Helper()
	var he *Error
	if !errors.As(err, &he) {
		t.Fatalf("error = %v (%T), want *hook.Error %d", err, err, status)
	}
	if he.Status != status || !strings.Contains(he.Error(), msg) {
		t.Fatalf("error = %d %q, want %d containing %q", he.Status, he.Error(), status, msg)
	}
	if StatusOf(err) != status {
		t.Fatalf("StatusOf = %d, want %d", StatusOf(err), status)
	}
}

var enabled = Config{Enabled: true}

// hugeBody is larger than DefaultMaxBody.
func hugeBody() []byte {
	return append(append([]byte(`{"repository":{"name":"`), bytes.Repeat([]byte("a"), DefaultMaxBody)...), `"}}`...)
}

// deepJSON nests n arrays inside an object.
func deepJSON(n int) []byte {
	return []byte(`{"repository":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`)
}

// errReader fails after its data.
type errReader struct{ r io.Reader }

func (e errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, errors.New("connection reset")
	}
	return n, err
}

// playgroundModule holds real webhook payloads that go-playground/webhooks
// recorded from GitHub, GitLab, Bitbucket, Gitea and Gogs in its testdata.
// It is not a dependency: the test reads the files from the module cache,
// downloading the module there first when it is missing.
const playgroundModule = "github.com/go-playground/webhooks/v6@v6.4.0"

var playground struct {
	once sync.Once
	dir  string
	err  error
}

// playgroundFile returns a sample payload. The test fails, saying why, when
// the samples cannot be had: the module proxy that make test fetches the
// build's modules from serves this module too, so a run without them
// would hide a missing fetch.
func playgroundFile(t *testing.T, name string) []byte {
	t.Helper()
	playground.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		tmp, err := os.MkdirTemp("", "hook-playground")
		if err != nil {
			playground.err = err
			return
		}
		defer os.RemoveAll(tmp)
		// Outside any module, so go.mod is left alone.
		cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", "--", playgroundModule)
		cmd.Dir = tmp
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		out, err := cmd.Output()
		var info struct{ Dir, Error string }
		if jerr := json.Unmarshal(out, &info); jerr == nil && info.Error != "" {
			err = errors.New(info.Error)
		}
		if err != nil {
			playground.err = fmt.Errorf("go mod download %s: %v", playgroundModule, err)
			return
		}
		playground.dir = filepath.Join(info.Dir, "testdata")
	})
	if playground.err != nil {
		t.Fatalf("real sample payloads unavailable: %v", playground.err)
	}
	data, err := os.ReadFile(filepath.Join(playground.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}
