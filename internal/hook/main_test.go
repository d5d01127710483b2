package hook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
