package convert

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// localUTF8 returns s as hg-git sees a changeset's user, description and
// branch: Mercurial's encoding.tolocal with the local encoding forced to
// UTF-8, so valid UTF-8 is kept and anything else is read as Latin-1 (the
// fallback encoding) and re-encoded.
func localUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) * 2)
	for i := 0; i < len(s); i++ {
		b.WriteRune(rune(s[i]))
	}
	return b.String()
}

// sanitizeIdent applies hg-git's get_valid_git_username_email: leading "<"
// and spaces and trailing ">" and spaces are stripped, then every "<", ">"
// and newline left becomes "?".
func sanitizeIdent(s string) string {
	s = strings.TrimLeft(s, "< ")
	s = strings.TrimRight(s, "> ")
	if !strings.ContainsAny(s, "<>\n") {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if c == '<' || c == '>' || c == '\n' {
			b[i] = '?'
		}
	}
	return string(b)
}

// gitIdent formats a Mercurial user name as hg-git's get_git_author does
// (without an authors map):
//
//   - "Name <mail>" (anything up to the first "<", one space before it
//     dropped; the mail up to the next ">"); text after that ">" is kept as
//     " ext:(QUOTED)" after the name;
//   - a name without "<" but with "@" is used as both name and mail;
//   - anything else gets "<none@none>".
//
// Name and mail are cleaned by sanitizeIdent. user must already be in the
// form localUTF8 gives.
func gitIdent(user string) string {
	// RE_GIT_AUTHOR = ^(.*?) ?<(.*?)(?:>(.*))?$ ; "." excludes newlines, and
	// "$" also matches before a final newline.
	if lt := strings.IndexByte(user, '<'); lt >= 0 && identRegexpMatches(user, lt) {
		name := user[:lt]
		if strings.HasSuffix(name, " ") {
			name = name[:len(name)-1]
		}
		rest := user[lt+1:]
		rest = strings.TrimSuffix(rest, "\n")
		mail, ext, hasExt := rest, "", false
		if gt := strings.IndexByte(rest, '>'); gt >= 0 {
			mail, ext, hasExt = rest[:gt], rest[gt+1:], true
		}
		name = sanitizeIdent(name)
		mail = sanitizeIdent(mail)
		if hasExt && ext != "" {
			name += " ext:(" + quote(ext) + ")"
		}
		return sanitizeIdent(name) + " <" + sanitizeIdent(mail) + ">"
	}
	if strings.Contains(user, "@") {
		s := sanitizeIdent(user)
		return s + " <" + s + ">"
	}
	return sanitizeIdent(user) + " <none@none>"
}

// identRegexpMatches reports whether RE_GIT_AUTHOR matches user, given the
// index of its first "<": no newline may occur before that "<", nor after it
// except as the very last byte.
func identRegexpMatches(user string, lt int) bool {
	if strings.IndexByte(user[:lt], '\n') >= 0 {
		return false
	}
	nl := strings.IndexByte(user[lt:], '\n')
	return nl < 0 || lt+nl == len(user)-1
}

// formatTZ writes a timezone given in seconds east of UTC as dulwich's
// format_timezone does: sign, then hours and minutes with "%02d", both
// computed with true division and truncated, as Python's "%d" does.
func formatTZ(east int64, negUTC bool) string {
	sign := byte('+')
	if east < 0 || negUTC {
		sign = '-'
		east = -east
	}
	hours := east / 3600 // Python: int(east / 3600.0), truncation toward zero
	minutes := pyMod(east/60, 60)
	// east/60 is exact here: callers only pass multiples of 60.
	b := []byte{sign}
	b = appendPct02d(b, hours)
	b = appendPct02d(b, minutes)
	return string(b)
}

// appendPct02d appends v as Python's "%02d" formats it.
func appendPct02d(b []byte, v int64) []byte {
	s := strconv.FormatInt(v, 10)
	if len(s) < 2 {
		s = strings.Repeat("0", 2-len(s)) + s
	}
	return append(b, s...)
}

// pyMod is Python's % for integers: the result has the sign of m.
func pyMod(a, m int64) int64 {
	r := a % m
	if r != 0 && (r < 0) != (m < 0) {
		r += m
	}
	return r
}

// quote is Python's urllib.parse.quote_from_bytes(s, safe="/"), which
// Mercurial's urlreq.quote uses: letters, digits, "_.-~" and "/" are kept,
// every other byte becomes "%XX".
func quote(s string) string {
	const hexdigits = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !quoteSafe(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quoteSafe(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hexdigits[c>>4], hexdigits[c&15])
		}
	}
	return string(b)
}

func quoteSafe(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == '.' || c == '-' || c == '~' || c == '/'
}

// unquote is Python's urllib.parse.unquote_to_bytes: "%XX" with two hex
// digits becomes that byte; anything else is kept as it is.
func unquote(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b = append(b, hi<<4|lo)
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return string(b)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// parsePyInt parses s as Python's int(bytes) does for base 10: surrounding
// ASCII whitespace, an optional sign, digits with single underscores between
// them. ok is false where Python raises ValueError (or the value overflows).
func parsePyInt(s string) (v int64, ok bool) {
	s = strings.Trim(s, " \t\n\r\v\f")
	if s == "" {
		return 0, false
	}
	neg := false
	switch s[0] {
	case '+':
		s = s[1:]
	case '-':
		neg = true
		s = s[1:]
	}
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' || strings.Contains(s, "__") {
		return 0, false
	}
	s = strings.ReplaceAll(s, "_", "")
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	u, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		u = -u
	}
	return u, true
}
