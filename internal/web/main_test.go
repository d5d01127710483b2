package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/synchroniser/synchroniser/internal/config"
	"github.com/synchroniser/synchroniser/internal/config/configtest"
	"github.com/synchroniser/synchroniser/internal/queue"
	"github.com/synchroniser/synchroniser/internal/store"
)

// TestMain removes the template database after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if tmplDB.dir != "" {
		os.RemoveAll(tmplDB.dir)
	}
	os.Exit(code)
}

// tmplDB is a SQLite database with the store's and River's migrations
// applied once; each test gets a copy (River's migrations take seconds
// under -race).
var tmplDB struct {
	once sync.Once
	dir  string
	err  error
}

// migratedDB returns the path of a fresh, migrated SQLite database.
func migratedDB(t testing.TB) string {
	t.Helper()
	tmplDB.once.Do(func() {
		tmplDB.dir, tmplDB.err = os.MkdirTemp("", "synchroniser-web-test-")
		if tmplDB.err != nil {
			return
		}
		ctx := context.Background()
		st, err := store.Open(ctx, store.Config{Driver: store.SQLite, Path: filepath.Join(tmplDB.dir, "synchroniser.db")})
		if err != nil {
			tmplDB.err = err
			return
		}
		defer st.Close()
		_, tmplDB.err = queue.New(ctx, queue.Config{Store: st})
	})
	if tmplDB.err != nil {
		t.Fatalf("template database: %v", tmplDB.err)
	}
	dst := filepath.Join(t.TempDir(), "synchroniser.db")
	for _, suffix := range []string{"", "-wal"} {
		data, err := os.ReadFile(filepath.Join(tmplDB.dir, "synchroniser.db"+suffix))
		if os.IsNotExist(err) && suffix != "" {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+suffix, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// sharedWebhooks holds the real payloads recorded for the project, read in
// place beside the repository.
const sharedWebhooks = "../../../shared/webhooks/bitbucket-legacy"

// legacyPayload reads a recorded legacy Bitbucket payload and points its
// canon_url at base.
func legacyPayload(t testing.TB, name, base string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sharedWebhooks, name))
	if err != nil {
		t.Fatalf("read shared payload: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if base != "" {
		doc["canon_url"] = base
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// post sends body to url with a content type and returns status and decoded JSON.
func post(t testing.TB, client *http.Client, u, contentType string, body []byte, headers ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	return do(t, client, req)
}

func get(t testing.TB, client *http.Client, u string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, client, req)
}

// do sends req and returns the status and the decoded JSON object.
func do(t testing.TB, client *http.Client, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, data := send(t, client, req)
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s %s: %d, body is not a JSON object: %v\n%s", req.Method, req.URL.Path, resp.StatusCode, err, data)
	}
	return resp.StatusCode, v
}

// send sends req and returns the response (its body read and closed) and
// the body.
func send(t testing.TB, client *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

// form encodes a legacy payload as Bitbucket sent it.
func form(payload []byte) []byte { return []byte(url.Values{"payload": {string(payload)}}.Encode()) }

func mustConfig(t testing.TB, toml string) *config.Config {
	t.Helper()
	return configtest.Parse(t, toml, "test.toml", nil)
}
