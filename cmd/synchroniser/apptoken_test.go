package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/synchroniser/synchroniser/internal/config"
	"github.com/synchroniser/synchroniser/internal/forge/forgetest"
	"github.com/synchroniser/synchroniser/internal/mirror"
)

func TestAppTokensAuthorise(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "app.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(keyFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	fake := forgetest.NewGitHub(t)
	fake.AddApp(42, "Iv1.test", &key.PublicKey)
	fake.AddInstallation(42, 7, "acme", map[string]string{"contents": "write", "metadata": "read"})

	cfg := config.Default()
	cfg.Destination.App = config.GitHubApp{ID: 42, InstallationID: 7, PrivateKeyFile: keyFile}
	cfg.Mirror = []config.MirrorConfig{{Name: "own-token", Destination: config.DestinationConfig{
		Credentials: config.Credentials{Token: "mirror-token"}}}}
	apps := newAppTokens(cfg)
	ctx := context.Background()
	dest := mirror.Destination{Forge: "github", APIURL: fake.URL + "/", Owner: "acme", Project: "widget"}

	m := mirror.Mirror{Name: "uses-app", Dest: dest}
	if err := apps.authorise(ctx, &m); err != nil {
		t.Fatal(err)
	}
	if m.Dest.Token == "" {
		t.Fatal("no installation token for a GitHub destination without a token")
	}
	again := mirror.Mirror{Name: "uses-app", Dest: dest}
	if err := apps.authorise(ctx, &again); err != nil {
		t.Fatal(err)
	}
	if again.Dest.Token != m.Dest.Token || fake.TokensMinted() != 1 {
		t.Fatalf("token not reused: %d minted", fake.TokensMinted())
	}

	// A destination with its own token, or not on GitHub, is left alone.
	for _, m := range []mirror.Mirror{
		{Name: "x", Dest: mirror.Destination{Forge: "github", Token: "given"}},
		{Name: "x", Dest: mirror.Destination{URL: "https://git.example.org/a.git"}},
		{Name: "own-token", Dest: mirror.Destination{Forge: "github", APIURL: fake.URL + "/"}},
	} {
		want := m.Dest.Token
		if err := apps.authorise(ctx, &m); err != nil || m.Dest.Token != want {
			t.Errorf("%+v: token %q, err %v; want it unchanged", m.Dest, m.Dest.Token, err)
		}
	}

	// An unknown installation is a permanent fault, not retried.
	cfg2 := config.Default()
	cfg2.Destination.App = config.GitHubApp{ID: 42, InstallationID: 999, PrivateKeyFile: keyFile}
	bad := mirror.Mirror{Name: "y", Dest: dest}
	err = newAppTokens(cfg2).authorise(ctx, &bad)
	var me *mirror.Error
	if !errors.As(err, &me) || me.Class != mirror.Permanent {
		t.Fatalf("unknown installation: err = %v, want a permanent *mirror.Error", err)
	}
}
