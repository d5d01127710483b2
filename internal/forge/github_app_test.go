package forge_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/forge"
	"github.com/synchroniser/synchroniser/internal/forge/forgetest"
)

var appKeys = sync.OnceValues(func() ([2]*rsa.PrivateKey, error) {
	var keys [2]*rsa.PrivateKey
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return keys, err
		}
		keys[i] = k
	}
	return keys, nil
})

// appKey returns the app's key (0) or a stranger's (1), PEM-encoded as
// GitHub issues it (PKCS#1) or as PKCS#8.
func appKey(t *testing.T, i int, pkcs8 bool) (*rsa.PrivateKey, []byte) {
	t.Helper()
	keys, err := appKeys()
	if err != nil {
		t.Fatal(err)
	}
	k := keys[i]
	if pkcs8 {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

const (
	appID          = 4242
	installationID = 777
)

func newAppWorld(t *testing.T, contents string) *forgetest.GitHub {
	t.Helper()
	fake := forgetest.NewGitHub(t)
	key, _ := appKey(t, 0, false)
	fake.AddApp(appID, "Iv23liFAKE", &key.PublicKey)
	fake.AddOrg("acme")
	fake.AddInstallation(appID, installationID, "acme", map[string]string{"contents": contents, "metadata": "read"})
	fake.AddPrivateRepo("acme", "site")
	fake.AddRepo("acme", "public")
	fake.AddPrivateRepo("other", "hidden")
	fake.AddRepo("other", "open")
	return fake
}

func TestGitHubAppTokenSource(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		pkcs8    bool
		clientID string
	}{{name: "pkcs1"}, {name: "pkcs8", pkcs8: true}, {name: "client id issuer", clientID: "Iv23liFAKE"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := newAppWorld(t, "write")
			_, pemKey := appKey(t, 0, tc.pkcs8)
			src := &forge.GitHubAppTokenSource{
				AppID: appID, ClientID: tc.clientID, InstallationID: installationID,
				PrivateKeyPEM: pemKey, BaseURL: fake.URL,
			}
			tok, err := src.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(tok, "ghs_") {
				t.Errorf("token %q", tok)
			}
			if got := src.Permissions()["contents"]; got != "write" {
				t.Errorf("contents permission %q", got)
			}
			if d := time.Until(src.Expiry()); d < 55*time.Minute || d > 61*time.Minute {
				t.Errorf("token expires in %v, want about 1h", d)
			}
			// Cached: no second exchange.
			tok2, err := src.Token(context.Background())
			if err != nil || tok2 != tok {
				t.Errorf("second Token = %q, %v; want the cached %q", tok2, err, tok)
			}
			if n := fake.TokensMinted(); n != 1 {
				t.Errorf("%d tokens minted, want 1", n)
			}
		})
	}
}

func TestGitHubAppJWT(t *testing.T) {
	t.Parallel()
	key, pemKey := appKey(t, 0, false)
	src := &forge.GitHubAppTokenSource{AppID: appID, InstallationID: installationID, PrivateKeyPEM: pemKey}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	jwt, err := src.JWT(now)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("JWT %q has %d parts", jwt, len(parts))
	}
	var hdr map[string]string
	var claims map[string]any
	decode := func(s string, v any) {
		raw, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatal(err)
		}
	}
	decode(parts[0], &hdr)
	decode(parts[1], &claims)
	if hdr["alg"] != "RS256" || hdr["typ"] != "JWT" {
		t.Errorf("header %v", hdr)
	}
	if claims["iss"] != float64(appID) || claims["iat"] != float64(now.Unix()-60) || claims["exp"] != float64(now.Unix()+540) {
		t.Errorf("claims %v", claims)
	}
	_ = key // the signature is verified by the fake in the other tests
}

func TestGitHubAppTokenRefresh(t *testing.T) {
	t.Parallel()
	fake := newAppWorld(t, "write")
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	fake.SetClock(clock)
	fake.SetTokenTTL(time.Hour)
	_, pemKey := appKey(t, 0, false)
	src := &forge.GitHubAppTokenSource{
		AppID: appID, InstallationID: installationID, PrivateKeyPEM: pemKey, BaseURL: fake.URL, Now: clock,
	}
	first, err := src.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	advance(54 * time.Minute) // 6 minutes left: still cached
	if tok, err := src.Token(context.Background()); err != nil || tok != first {
		t.Fatalf("Token after 54m = %q, %v; want the cached token", tok, err)
	}
	advance(2 * time.Minute) // 4 minutes left: renewed
	second, err := src.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Error("token not renewed near expiry")
	}
	if n := fake.TokensMinted(); n != 2 {
		t.Errorf("%d tokens minted, want 2", n)
	}
	// Concurrent callers share one token.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if tok, err := src.Token(context.Background()); err != nil || tok != second {
				t.Errorf("concurrent Token = %q, %v", tok, err)
			}
		})
	}
	wg.Wait()
	if n := fake.TokensMinted(); n != 2 {
		t.Errorf("%d tokens minted, want 2", n)
	}
}

func TestGitHubAppTokenErrors(t *testing.T) {
	t.Parallel()
	_, good := appKey(t, 0, false)
	_, stranger := appKey(t, 1, false)
	cases := []struct {
		name string
		app  int64
		inst int64
		key  []byte
		fail int
		url  string
		want error
		msg  string
	}{
		{name: "wrong key", app: appID, inst: installationID, key: stranger,
			want: forge.ErrAuth, msg: "A JSON web token could not be decoded"},
		{name: "wrong app id", app: 1, inst: installationID, key: good,
			want: forge.ErrAuth},
		{name: "unknown installation", app: appID, inst: 1, key: good,
			want: forge.ErrAuth, msg: "404"},
		{name: "not PEM", app: appID, inst: installationID, key: []byte("nope"),
			want: forge.ErrAuth, msg: "no PEM block"},
		{name: "server 502", app: appID, inst: installationID, key: good,
			fail: 502, want: forge.ErrUnavailable},
		{name: "unreachable", app: appID, inst: installationID, key: good,
			url: closedURL(t), want: forge.ErrUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := newAppWorld(t, "write")
			fake.Fail(tc.fail)
			src := &forge.GitHubAppTokenSource{AppID: tc.app, InstallationID: tc.inst, PrivateKeyPEM: tc.key, BaseURL: fake.URL}
			if tc.url != "" {
				src.BaseURL = tc.url
			}
			_, err := src.Token(context.Background())
			if !errors.Is(err, tc.want) {
				t.Fatalf("Token: %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "installation") {
				t.Errorf("error %q lacks %q", err, tc.msg)
			}
			// Through a checker, the same class comes out.
			checker, err := forge.NewGitHub(forge.Config{BaseURL: src.BaseURL, Tokens: src})
			if err != nil {
				t.Fatal(err)
			}
			err = checker.Preflight(context.Background(), "acme", "site")
			checkErr(t, err, tc.want, "")
			if forge.IsBadRequest(err) {
				t.Errorf("IsBadRequest(%v) = true", err)
			}
		})
	}
}

func TestGitHubAppPreflight(t *testing.T) {
	t.Parallel()
	_, pemKey := appKey(t, 0, false)
	cases := []struct {
		contents       string
		owner, project string
		want           error
	}{
		{"write", "acme", "site", nil},
		{"write", "acme", "public", nil},
		{"read", "acme", "site", forge.ErrNoPush},
		{"write", "other", "open", forge.ErrNotCollaborator},
		{"write", "other", "hidden", forge.ErrRepoNotFound},
		{"write", "nobody", "x", forge.ErrUserNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.contents+"/"+tc.owner+"/"+tc.project, func(t *testing.T) {
			t.Parallel()
			fake := newAppWorld(t, tc.contents)
			src := &forge.GitHubAppTokenSource{
				AppID: appID, InstallationID: installationID, PrivateKeyPEM: pemKey, BaseURL: fake.URL,
			}
			// Bot names a user account; with an App it is ignored.
			checker, err := forge.NewGitHub(forge.Config{BaseURL: fake.URL, Tokens: src, Bot: "synchro-bot"})
			if err != nil {
				t.Fatal(err)
			}
			err = checker.Preflight(context.Background(), tc.owner, tc.project)
			tok, _ := src.Token(context.Background())
			checkErr(t, err, tc.want, tok)
			if errors.Is(tc.want, forge.ErrNoPush) && !strings.Contains(err.Error(), "app installation") {
				t.Errorf("error %q does not name the app installation", err)
			}
			if n := fake.TokensMinted(); n != 1 {
				t.Errorf("%d tokens minted, want 1", n)
			}
		})
	}
	// A token the forge revoked is refused: ErrAuth.
	fake := newAppWorld(t, "write")
	src := &forge.GitHubAppTokenSource{AppID: appID, InstallationID: installationID, PrivateKeyPEM: pemKey, BaseURL: fake.URL}
	checker, _ := forge.NewGitHub(forge.Config{BaseURL: fake.URL, Tokens: src})
	if err := checker.Preflight(context.Background(), "acme", "site"); err != nil {
		t.Fatal(err)
	}
	fake.RevokeTokens()
	checkErr(t, checker.Preflight(context.Background(), "acme", "site"), forge.ErrAuth, "")
}

func TestGitHubAppPreflightWithoutRepoPermissions(t *testing.T) {
	t.Parallel()
	_, pemKey := appKey(t, 0, false)
	for _, tc := range []struct {
		contents string
		want     error
	}{{"write", nil}, {"read", forge.ErrNoPush}} {
		fake := newAppWorld(t, tc.contents)
		fake.HidePermissions()
		src := &forge.GitHubAppTokenSource{AppID: appID, InstallationID: installationID, PrivateKeyPEM: pemKey, BaseURL: fake.URL}
		checker, err := forge.NewGitHub(forge.Config{BaseURL: fake.URL, Tokens: src})
		if err != nil {
			t.Fatal(err)
		}
		err = checker.Preflight(context.Background(), "acme", "site")
		checkErr(t, err, tc.want, "")
		if tc.want != nil && !strings.Contains(err.Error(), `contents permission "read"`) {
			t.Errorf("error %q", err)
		}
	}
}
