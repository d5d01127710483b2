package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// sessionCookie holds proof of the admin token for the status page: an
// HMAC of a fixed label keyed with the token, never the token itself.
const sessionCookie = "synchroniser_admin"

// authError says why an admin request was refused.
type authError struct {
	status int
	msg    string
}

// adminAuth checks an admin request. A bearer token is enough (browsers
// cannot send one cross-site without CORS, which is never granted). A form
// field or the session cookie also needs the request to be same-origin.
func (s *Server) adminAuth(r *http.Request) *authError {
	want := s.cfg.AdminToken.Value()
	if want == "" {
		return &authError{http.StatusForbidden, "the admin API is disabled: no admin_token is configured"}
	}
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || !equalSecret(tok, want) {
			return &authError{http.StatusUnauthorized, "invalid admin token"}
		}
		return nil
	}
	if !s.sameOrigin(r) {
		return &authError{http.StatusForbidden, "cross-origin request refused"}
	}
	if tok := r.PostFormValue("token"); tok != "" {
		if !equalSecret(tok, want) {
			return &authError{http.StatusUnauthorized, "invalid admin token"}
		}
		return nil
	}
	if c, err := r.Cookie(sessionCookie); err == nil && equalSecret(c.Value, s.sessionValue()) {
		return nil
	}
	return &authError{http.StatusUnauthorized, "admin token required (Authorization: Bearer TOKEN)"}
}

// equalSecret compares in constant time (digests, so lengths do not leak).
func equalSecret(a, b string) bool {
	x, y := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(x[:], y[:]) == 1
}

func (s *Server) sessionValue() string {
	m := hmac.New(sha256.New, []byte(s.cfg.AdminToken.Value()))
	m.Write([]byte("synchroniser admin session v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// sameOrigin accepts a request whose Sec-Fetch-Site, Origin or Referer says
// it comes from this service's own pages; a request with none of them (not a
// browser) is refused too, since only browsers carry cookies on their own.
func (s *Server) sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin":
		return true
	case "cross-site", "same-site":
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		origin = r.Header.Get("Referer")
	}
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if s.cfg.BaseURL != "" {
		b, _ := url.Parse(s.cfg.BaseURL)
		return strings.EqualFold(u.Scheme, b.Scheme) && strings.EqualFold(u.Host, b.Host)
	}
	return strings.EqualFold(u.Host, r.Host)
}

// login serves POST /login from the status page: a correct token sets the
// session cookie.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if a := s.adminAuth(r); a != nil {
		s.log.Info("admin login refused", "client", s.clientIP(r), "reason", a.msg)
		if wantsHTML(r) {
			http.Redirect(w, r, "/?login=failed", http.StatusSeeOther)
			return
		}
		fail(w, a.status, "%s", a.msg)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: s.sessionValue(), Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil || strings.HasPrefix(s.cfg.BaseURL, "https:"),
		MaxAge: int((12 * time.Hour).Seconds()),
	})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout clears the session cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(r) {
		fail(w, http.StatusForbidden, "cross-origin request refused")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// loggedIn reports whether the request carries a valid session cookie.
func (s *Server) loggedIn(r *http.Request) bool {
	if !s.cfg.AdminToken.IsSet() {
		return false
	}
	c, err := r.Cookie(sessionCookie)
	return err == nil && equalSecret(c.Value, s.sessionValue())
}

// wantsHTML reports a browser form submission (answered with a redirect).
func wantsHTML(r *http.Request) bool {
	return r.Header.Get("Authorization") == "" && strings.Contains(r.Header.Get("Accept"), "text/html")
}
