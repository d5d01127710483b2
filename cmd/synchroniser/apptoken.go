package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"

	"github.com/synchroniser/synchroniser/internal/config"
	"github.com/synchroniser/synchroniser/internal/forge"
	"github.com/synchroniser/synchroniser/internal/mirror"
)

// appTokens authenticates pushes to GitHub destinations that have a GitHub
// App instead of a token: it mints installation tokens (cached by the token
// source until shortly before they expire), one source per installation and
// API URL.
type appTokens struct {
	cfg *config.Config

	mu      sync.Mutex
	sources map[string]*forge.GitHubAppTokenSource
}

func newAppTokens(cfg *config.Config) *appTokens {
	return &appTokens{cfg: cfg, sources: map[string]*forge.GitHubAppTokenSource{}}
}

// app returns the GitHub App for mirror name's destination: its own, or the
// default one when the mirror names no credentials of its own.
func (a *appTokens) app(name string) (config.GitHubApp, bool) {
	if mc, ok := a.cfg.MirrorConfig(name); ok {
		d := mc.Destination
		if d.App.Enabled() {
			return d.App, true
		}
		if d.Token.IsSet() {
			return config.GitHubApp{}, false
		}
	}
	return a.cfg.Destination.App, a.cfg.Destination.App.Enabled()
}

// authorise gives m's GitHub destination an installation token when it has
// no token and an App is configured; other destinations are left alone.
func (a *appTokens) authorise(ctx context.Context, m *mirror.Mirror) error {
	if m.Dest.Token != "" || m.Dest.Forge != forge.KindGitHub {
		return nil
	}
	app, ok := a.app(m.Name)
	if !ok {
		return nil
	}
	src, err := a.source(app, m.Dest.APIURL)
	if err == nil {
		m.Dest.Token, err = src.Token(ctx)
	}
	if err != nil {
		class := mirror.Permanent // a refused key or unknown installation: retrying will not help
		if errors.Is(err, forge.ErrUnavailable) {
			class = mirror.Transient
		}
		return &mirror.Error{Op: "github app token", Err: err, Class: class}
	}
	return nil
}

func (a *appTokens) source(app config.GitHubApp, apiURL string) (*forge.GitHubAppTokenSource, error) {
	key := strconv.FormatInt(app.ID, 10) + "/" + strconv.FormatInt(app.InstallationID, 10) + "@" + apiURL
	a.mu.Lock()
	defer a.mu.Unlock()
	if s, ok := a.sources[key]; ok {
		return s, nil
	}
	pem, err := os.ReadFile(app.PrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("github app %d: private key: %w", app.ID, err)
	}
	s := &forge.GitHubAppTokenSource{AppID: app.ID, InstallationID: app.InstallationID, PrivateKeyPEM: pem, BaseURL: apiURL}
	a.sources[key] = s
	return s, nil
}
