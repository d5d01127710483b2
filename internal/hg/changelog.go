package hg

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/synchroniser/synchroniser/internal/limitio"
)

// Changeset is one parsed changelog entry.
type Changeset struct {
	Rev          int
	Node, P1, P2 Node // P1/P2 = NullNode when absent
	Manifest     Node
	User         string            // raw bytes (may be non-UTF-8)
	Time         int64             // seconds since the epoch (integer part)
	TZ           int               // offset in seconds west of UTC
	Extra        map[string]string // decoded extras (branch, close, ...); nil when none
	Files        []string          // files changed, in changelog order
	Description  string            // raw bytes
}

// Branch returns the changeset's named branch: Extra["branch"] or "default".
func (c *Changeset) Branch() string {
	if b := c.Extra["branch"]; b != "" {
		return b
	}
	return "default"
}

// Closed reports whether the changeset closes its branch.
func (c *Changeset) Closed() bool {
	_, ok := c.Extra["close"]
	return ok
}

// ParseChangeset parses a changelog entry's text as Mercurial's
// changelog.py does:
//
//	manifest hex\nuser\ntime tz[ extra]\nfile\n...\n\ndescription
//
// It fills Manifest, User, Time, TZ, Extra, Files and Description.
func ParseChangeset(text []byte) (*Changeset, error) {
	c := &Changeset{}
	if len(text) == 0 {
		return c, nil // the null revision
	}
	nl1 := bytes.IndexByte(text, '\n')
	if nl1 < 0 {
		return nil, corruptf("hg: parse changeset: no newline after manifest node")
	}
	nl2 := indexByteFrom(text, '\n', nl1+1)
	if nl2 < 0 {
		return nil, corruptf("hg: parse changeset: no newline after user")
	}
	nl3 := indexByteFrom(text, '\n', nl2+1)
	if nl3 < 0 {
		return nil, corruptf("hg: parse changeset: no newline after date")
	}
	var double int
	if nl3+1 < len(text) && text[nl3+1] == '\n' {
		double = nl3
	} else {
		i := bytes.Index(text[nl3+1:], []byte("\n\n"))
		if i < 0 {
			return nil, corruptf("hg: parse changeset: no blank line before description")
		}
		double = nl3 + 1 + i
	}
	if !decodeHex(c.Manifest[:], text[:nl1]) {
		return nil, corruptf("hg: parse changeset: bad manifest node %q", limitio.Clip(string(text[:nl1]), 64))
	}
	c.User = string(text[nl1+1 : nl2])
	date := text[nl2+1 : nl3]
	fields := bytes.SplitN(date, []byte(" "), 3)
	t, err := parseTime(string(fields[0]))
	if err != nil {
		return nil, corruptf("hg: parse changeset: date %q: %w", limitio.Clip(string(date), 64), err)
	}
	c.Time = t
	if len(fields) > 1 {
		// Like hg: a timezone that is not an integer counts as 0.
		if tz, err := strconv.Atoi(strings.TrimSpace(string(fields[1]))); err == nil && tz >= math.MinInt32 && tz <= math.MaxInt32 {
			c.TZ = tz
		}
	}
	if len(fields) == 3 {
		c.Extra, err = decodeExtra(fields[2])
		if err != nil {
			return nil, corruptf("hg: parse changeset: extra: %w", err)
		}
	}
	if double > nl3 {
		c.Files = strings.Split(string(text[nl3+1:double]), "\n")
	}
	c.Description = string(text[double+2:])
	return c, nil
}

func indexByteFrom(b []byte, c byte, from int) int {
	if from > len(b) {
		return -1
	}
	i := bytes.IndexByte(b[from:], c)
	if i < 0 {
		return -1
	}
	return from + i
}

// parseTime reads a changelog time: an integer or, in old repositories, a
// float of which the integer part is kept.
func parseTime(s string) (int64, error) {
	if t, err := strconv.ParseInt(s, 10, 64); err == nil {
		return t, nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(f) || f >= math.MaxInt64 || f <= math.MinInt64 {
		return 0, fmt.Errorf("time %q out of range", s)
	}
	return int64(f), nil
}

// decodeExtra decodes the NUL-separated, escaped key:value extras.
func decodeExtra(raw []byte) (map[string]string, error) {
	extra := map[string]string{}
	for len(raw) > 0 {
		var item []byte
		if i := bytes.IndexByte(raw, 0); i >= 0 {
			item, raw = raw[:i], raw[i+1:]
		} else {
			item, raw = raw, nil
		}
		if len(item) == 0 {
			continue
		}
		s, err := unescapeExtra(item)
		if err != nil {
			return nil, err
		}
		k, v, ok := strings.Cut(s, ":")
		if !ok {
			return nil, fmt.Errorf("item %q has no ':'", limitio.Clip(s, 64))
		}
		extra[k] = v
	}
	return extra, nil
}

// unescapeExtra is changelog.py's _string_unescape: "\0" fixed up first,
// then Python's string_escape decoding.
func unescapeExtra(b []byte) (string, error) {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b), nil
	}
	s := string(b)
	if strings.Contains(s, `\0`) {
		s = strings.ReplaceAll(s, `\\`, "\\\\\n")
		s = strings.ReplaceAll(s, `\0`, "\x00")
		s = strings.ReplaceAll(s, "\n", "")
	}
	return pyEscapeDecode(s)
}

// pyEscapeDecode decodes backslash escapes as Python's codecs.escape_decode.
func pyEscapeDecode(s string) (string, error) {
	var out strings.Builder
	out.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			return "", fmt.Errorf("trailing \\ in %q", limitio.Clip(s, 64))
		}
		switch c = s[i]; c {
		case '\n':
		case '\\', '\'', '"':
			out.WriteByte(c)
		case 'b':
			out.WriteByte('\b')
		case 'f':
			out.WriteByte('\f')
		case 't':
			out.WriteByte('\t')
		case 'n':
			out.WriteByte('\n')
		case 'r':
			out.WriteByte('\r')
		case 'v':
			out.WriteByte('\v')
		case 'a':
			out.WriteByte('\a')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(c - '0')
			for k := 0; k < 2 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '7'; k++ {
				i++
				v = v*8 + int(s[i]-'0')
			}
			out.WriteByte(byte(v))
		case 'x':
			var v [1]byte
			if i+2 >= len(s) || !decodeHex(v[:], s[i+1:i+3]) {
				return "", fmt.Errorf("invalid \\x escape in %q", limitio.Clip(s, 64))
			}
			out.WriteByte(v[0])
			i += 2
		default:
			out.WriteByte('\\')
			out.WriteByte(c)
		}
	}
	return out.String(), nil
}
