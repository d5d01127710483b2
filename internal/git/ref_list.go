package git

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/synchroniser/synchroniser/internal/limitio"
)

// maxRefName bounds a ref name read from git's output.
const maxRefName = 4096

// ParseRefList parses lines "<hex hash>\t<ref name>" as printed by
// `git ls-remote` and `git for-each-ref --format='%(objectname)%09%(refname)'`.
func ParseRefList(out []byte) (map[string]Hash, error) {
	refs := make(map[string]Hash)
	for n := 1; len(out) > 0; n++ {
		line := out
		if i := bytes.IndexByte(out, '\n'); i >= 0 {
			line, out = out[:i], out[i+1:]
		} else {
			out = nil
		}
		hexHash, name, ok := bytes.Cut(line, []byte{'\t'})
		if !ok {
			return nil, fmt.Errorf("line %d: no tab", n)
		}
		h, err := ParseHash(string(hexHash))
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if len(name) == 0 || len(name) > maxRefName || bytes.ContainsFunc(name, isControl) {
			return nil, fmt.Errorf("line %d: bad ref name %q", n, limitio.Clip(string(name), 100))
		}
		refs[string(name)] = h
	}
	return refs, nil
}

// PushRef is one ref's line in `git push --porcelain` output.
type PushRef struct {
	Flag     byte   // ' ' fast-forward, '+' forced, '-' deleted, '*' new, '!' rejected, '=' up to date
	From, To string // local and remote ref
	Summary  string // e.g. "[rejected]", "[new branch]", "abc..def"
	Reason   string // e.g. "non-fast-forward", without parentheses
}

// parsePushPorcelain reads the ref lines of `git push --porcelain` output,
// skipping "To <url>" and "Done" lines and anything it does not recognise.
func parsePushPorcelain(out []byte) []PushRef {
	var refs []PushRef
	for _, line := range strings.Split(string(out), "\n") {
		if len(line) < 2 || line[1] != '\t' || !strings.ContainsRune(" +-*!=", rune(line[0])) {
			continue
		}
		fields := strings.SplitN(line[2:], "\t", 2)
		if len(fields) != 2 {
			continue
		}
		from, to, ok := strings.Cut(fields[0], ":")
		if !ok {
			continue
		}
		p := PushRef{Flag: line[0], From: from, To: to, Summary: fields[1]}
		if i := strings.Index(p.Summary, " ("); i >= 0 && strings.HasSuffix(p.Summary, ")") {
			p.Summary, p.Reason = p.Summary[:i], p.Summary[i+2:len(p.Summary)-1]
		}
		refs = append(refs, p)
	}
	return refs
}
