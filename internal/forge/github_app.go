package forge

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// GitHubAppTokenSource mints installation access tokens for a GitHub App:
// it signs a JWT (RS256) with the app's private key and exchanges it at
// POST /app/installations/{id}/access_tokens. The token is cached until
// RefreshBefore ahead of its expiry. Use the same source for API preflight
// (Config.Tokens) and as the git push password (user "x-access-token").
// Safe for concurrent use; use it by pointer.
type GitHubAppTokenSource struct {
	AppID          int64
	ClientID       string // optional: the JWT issuer instead of AppID, as GitHub now recommends
	InstallationID int64
	PrivateKeyPEM  []byte // PKCS#1 ("RSA PRIVATE KEY", as GitHub issues) or PKCS#8
	BaseURL        string // API root; "" = https://api.github.com/
	HTTPClient     *http.Client
	Timeout        time.Duration    // bounds one exchange; 0 = DefaultTimeout
	RefreshBefore  time.Duration    // renew this long before expiry; 0 = 5 minutes
	Now            func() time.Time // clock; nil = time.Now

	mu          sync.Mutex
	key         *rsa.PrivateKey
	token       string
	expires     time.Time
	permissions map[string]string
}

// Token returns a valid installation token, minting a new one when there is
// none or the cached one is near expiry. Errors wrap ErrAuth when GitHub
// refuses the app (bad key, unknown installation) and ErrUnavailable when
// GitHub cannot be reached or fails.
func (s *GitHubAppTokenSource) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	margin := s.RefreshBefore
	if margin <= 0 {
		margin = 5 * time.Minute
	}
	if s.token != "" && now.Add(margin).Before(s.expires) {
		return s.token, nil
	}
	tok, exp, perms, err := s.mint(ctx, now)
	if err != nil {
		return "", fmt.Errorf("forge: github app %d installation %d: %w", s.AppID, s.InstallationID, err)
	}
	s.token, s.expires, s.permissions = tok, exp, perms
	return tok, nil
}

// Permissions returns the permissions GitHub granted the current token
// (e.g. "contents": "write"), or nil before the first Token.
func (s *GitHubAppTokenSource) Permissions() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.permissions))
	for k, v := range s.permissions {
		out[k] = v
	}
	return out
}

// Expiry returns when the current token expires (zero before the first Token).
func (s *GitHubAppTokenSource) Expiry() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.expires
}

func (s *GitHubAppTokenSource) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// JWT returns a JSON Web Token authenticating as the app, valid from a
// minute ago (clock drift) for nine minutes (GitHub allows at most ten).
func (s *GitHubAppTokenSource) JWT(now time.Time) (string, error) {
	if s.key == nil {
		key, err := parseRSAKey(s.PrivateKeyPEM)
		if err != nil {
			return "", err
		}
		s.key = key
	}
	var iss any = s.AppID
	if s.ClientID != "" {
		iss = s.ClientID
	}
	hdr, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT"})
	claims, err := json.Marshal(map[string]any{
		"iat": now.Add(-time.Minute).Unix(),
		"exp": now.Add(9 * time.Minute).Unix(),
		"iss": iss,
	})
	if err != nil {
		return "", err
	}
	signing := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign JWT: %w", err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func parseRSAKey(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: private key: no PEM block", ErrAuth)
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: private key: %v", ErrAuth, err)
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: private key: %v", ErrAuth, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%w: private key: not RSA (GitHub Apps use RS256)", ErrAuth)
		}
		return rk, nil
	}
	return nil, fmt.Errorf("%w: private key: unexpected PEM block %q", ErrAuth, block.Type)
}

func (s *GitHubAppTokenSource) mint(ctx context.Context, now time.Time) (string, time.Time, map[string]string, error) {
	jwt, err := s.JWT(now)
	if err != nil {
		return "", time.Time{}, nil, err
	}
	base := s.BaseURL
	if base == "" {
		base = "https://api.github.com/"
	}
	u, err := parseBaseURL(base)
	if err != nil {
		return "", time.Time{}, nil, err
	}
	u = u.JoinPath("app", "installations", strconv.FormatInt(s.InstallationID, 10), "access_tokens")

	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader([]byte("{}")))
	if err != nil {
		return "", time.Time{}, nil, err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("Authorization", "Bearer "+jwt)
	hc := s.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", time.Time{}, nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", time.Time{}, nil, fmt.Errorf("%w: read access token: %w", ErrUnavailable, err)
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(body, &e)
		msg := fmt.Sprintf("POST %s: %d %s", u.Path, resp.StatusCode, e.Message)
		switch {
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden ||
			resp.StatusCode == http.StatusNotFound:
			// Bad JWT, suspended app or unknown installation: configuration.
			return "", time.Time{}, nil, fmt.Errorf("%w: %s", ErrAuth, msg)
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			return "", time.Time{}, nil, fmt.Errorf("%w: %s", ErrUnavailable, msg)
		}
		return "", time.Time{}, nil, fmt.Errorf("%w: %s", errUnexpected, msg)
	}
	var out struct {
		Token       string            `json:"token"`
		ExpiresAt   time.Time         `json:"expires_at"`
		Permissions map[string]string `json:"permissions"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return "", time.Time{}, nil, fmt.Errorf("%w: access token response: %v", errUnexpected, err)
	}
	if out.Token == "" || out.ExpiresAt.IsZero() {
		return "", time.Time{}, nil, fmt.Errorf("%w: access token response without token or expires_at", errUnexpected)
	}
	return out.Token, out.ExpiresAt, out.Permissions, nil
}

// tokenError marks an error from a TokenSource inside a request, so that
// it is classified by what the source said, not as a network failure.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

// classifyToken returns the sentinel for an error from a TokenSource, or
// nil when err did not come from one.
func classifyToken(err error) error {
	var te *tokenError
	if !errors.As(err, &te) {
		return nil
	}
	switch {
	case errors.Is(te.err, ErrAuth):
		return ErrAuth
	case errors.Is(te.err, ErrUnavailable), isNetwork(te.err):
		return ErrUnavailable
	}
	return errUnexpected
}
