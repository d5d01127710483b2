package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// FuzzSynchronise posts arbitrary bodies to the legacy endpoint, in both
// encodings: the answer is always a JSON object with "message" or "error",
// and never a server fault (the fake GitHub is up, the store is real).
func FuzzSynchronise(f *testing.F) {
	for _, name := range []string{"hg-push-elevenbits-hub.json", "git-push-larhauga-posthooktest.json", "git-push-arifsetiawan-jepretdummy.json"} {
		data, err := os.ReadFile(filepath.Join(sharedWebhooks, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, false)
		f.Add(data, true)
	}
	f.Add([]byte(`{ "invalid": "json }`), false)
	e := newEnv(f, nil)
	f.Fuzz(func(t *testing.T, body []byte, asForm bool) {
		ctype := "application/json"
		if asForm {
			body, ctype = form(body), "application/x-www-form-urlencoded"
		}
		req := httptest.NewRequest(http.MethodPost, "/synchronise/", bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("server fault %d for %q: %s", rec.Code, body, rec.Body)
		}
		var v map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("answer is not JSON: %v: %s", err, rec.Body)
		}
		if v["message"] == nil && v["error"] == nil {
			t.Fatalf("answer has neither message nor error: %s", rec.Body)
		}
	})
}

// FuzzClientIP feeds arbitrary X-Forwarded-For headers to the client
// address logic: it returns an address from the header or the peer, never
// panics.
func FuzzClientIP(f *testing.F) {
	f.Add("198.51.100.7")
	f.Add("203.0.113.9, 198.51.100.7, 10.1.2.3")
	f.Add("garbage,,, ::1")
	s := &Server{}
	s.cfg = mustConfig(f, "[limits]\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n")
	f.Fuzz(func(t *testing.T, xff string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "127.0.0.1:1234"
		r.Header.Set("X-Forwarded-For", xff)
		got := s.clientIP(r)
		if got == "" {
			t.Fatalf("empty client address for %q", xff)
		}
	})
}
