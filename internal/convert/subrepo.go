package convert

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// subrepo is one entry of a changeset's subrepository state, as Mercurial's
// subrepoutil.state builds it from .hgsub and .hgsubstate.
type subrepo struct {
	Path   string
	Kind   string // "hg", "git", "svn", ...
	Source string
	Rev    string // from .hgsubstate; "" when it has no line for Path
}

// subProblem is an entry of .hgsub or .hgsubstate that Mercurial itself
// rejects (it aborts on it); the parsers skip it and carry on.
type subProblem struct {
	Kind    string // WarnHgsubSyntax or WarnHgsubstateSyntax
	Path    string // the subrepository path, when known
	Message string
}

// Warning kinds.
const (
	WarnHgsubSyntax      = "hgsub-syntax"         // a .hgsub line Mercurial cannot parse
	WarnHgsubstateSyntax = "hgsubstate-syntax"    // a .hgsubstate line Mercurial cannot parse
	WarnSubrepoRevision  = "subrepo-git-revision" // a [git] subrepository without a usable commit id
	WarnSubrepoKind      = "subrepo-kind"         // a subrepository kind Git cannot express ([svn], hg)
)

// Regular expressions of Mercurial's config parser (config.config.parse),
// which reads .hgsub. Each is matched at the start of a line that still
// ends with its newline.
var (
	cfgSection = regexp.MustCompile(`^\[([^\[]+)\]`)
	cfgItem    = regexp.MustCompile(`^([^=` + pyWS + `][^=]*?)[` + pyWS + `]*=[` + pyWS + `]*(.*[^` + pyWS + `]|)`)
	cfgCont    = regexp.MustCompile(`^[` + pyWS + `]+([^` + pyWS + `]|[^` + pyWS + `].*[^` + pyWS + `])[` + pyWS + `]*$`)
	cfgEmpty   = regexp.MustCompile(`^(;|#|[` + pyWS + `]*$)`)
	cfgComment = regexp.MustCompile(`^(;|#)`)
	cfgUnset   = regexp.MustCompile(`^%unset[` + pyWS + `]+([^` + pyWS + `]+)`)
	cfgInclude = regexp.MustCompile(`^%include[` + pyWS + `]+([^` + pyWS + `]|[^` + pyWS + `].*[^` + pyWS + `])[` + pyWS + `]*$`)
)

// pyWS is the class Python's \s matches in bytes patterns.
const pyWS = ` \t\n\r\f\v`

// maxSubFile bounds the .hgsub/.hgsubstate text parsed (larger files are
// cut there, with a problem reported).
const maxSubFile = 4 << 20

// splitLinesKeep splits like Python's bytes.splitlines(keepends=True):
// lines end at "\n", "\r" or "\r\n".
func splitLinesKeep(s string) []string {
	var out []string
	for len(s) > 0 {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			out = append(out, s)
			break
		}
		end := i + 1
		if s[i] == '\r' && end < len(s) && s[end] == '\n' {
			end++
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out
}

// parseHgsub reads .hgsub as Mercurial does and returns the items of its
// default section in order (a later assignment moves an item to the end, as
// Mercurial's sortdict does).
func parseHgsub(data string) (items [][2]string, problems []subProblem) {
	if len(data) > maxSubFile {
		problems = append(problems, subProblem{Kind: WarnHgsubSyntax, Message: fmt.Sprintf(".hgsub: larger than %d bytes, rest ignored", maxSubFile)})
		data = data[:maxSubFile]
	}
	set := func(k, v string) {
		for i, it := range items {
			if it[0] == k {
				items = append(items[:i], items[i+1:]...)
				break
			}
		}
		items = append(items, [2]string{k, v})
	}
	get := func(k string) string {
		for _, it := range items {
			if it[0] == k {
				return it[1]
			}
		}
		return ""
	}
	section := ""
	item := ""
	cont := false
	for n, l := range splitLinesKeep(data) {
		if n == 0 {
			l = strings.TrimPrefix(l, "\xef\xbb\xbf")
		}
		// Python's "." does not match "\n"; "$" matches before a final one.
		if cont {
			if cfgComment.MatchString(l) {
				continue
			}
			if m := cfgCont.FindStringSubmatch(strings.TrimSuffix(l, "\n")); m != nil {
				if section == "" {
					set(item, get(item)+"\n"+m[1])
				}
				continue
			}
			item = ""
			cont = false
		}
		line := strings.TrimSuffix(l, "\n")
		if m := cfgInclude.FindStringSubmatch(line); m != nil {
			problems = append(problems, subProblem{Kind: WarnHgsubSyntax, Message: fmt.Sprintf(".hgsub:%d: %%include is not followed", n+1)})
			continue
		}
		if cfgEmpty.MatchString(line) {
			continue
		}
		if m := cfgSection.FindStringSubmatch(line); m != nil {
			section = m[1]
			continue
		}
		if m := cfgItem.FindStringSubmatch(line); m != nil {
			item = m[1]
			cont = true
			if section == "" {
				set(item, m[2])
			}
			continue
		}
		if m := cfgUnset.FindStringSubmatch(line); m != nil {
			if section == "" {
				for i, it := range items {
					if it[0] == m[1] {
						items = append(items[:i], items[i+1:]...)
						break
					}
				}
			}
			continue
		}
		problems = append(problems, subProblem{Kind: WarnHgsubSyntax, Message: fmt.Sprintf(".hgsub:%d: parse error: %q", n+1, strings.TrimRight(l, " \t\r\n"))})
	}
	return items, problems
}

// parseHgsubstate reads .hgsubstate ("REVISION PATH" lines) as Mercurial
// does; a later line for a path wins.
func parseHgsubstate(data string) (revs map[string]string, problems []subProblem) {
	if len(data) > maxSubFile {
		problems = append(problems, subProblem{Kind: WarnHgsubstateSyntax, Message: fmt.Sprintf(".hgsubstate: larger than %d bytes, rest ignored", maxSubFile)})
		data = data[:maxSubFile]
	}
	revs = make(map[string]string)
	for n, l := range splitLinesKeep(data) {
		l = strings.TrimRight(l, "\r\n")
		l = strings.TrimLeft(l, " \t\n\r\v\f")
		if l == "" {
			continue
		}
		rev, path, ok := strings.Cut(l, " ")
		if !ok {
			problems = append(problems, subProblem{Kind: WarnHgsubstateSyntax, Path: l,
				Message: fmt.Sprintf("invalid subrepository revision specifier in '.hgsubstate' line %d: %q", n+1, l)})
			continue
		}
		revs[path] = rev
	}
	return revs, problems
}

// subrepoState combines .hgsub and .hgsubstate as subrepoutil.state does
// (without [subpaths] remapping, which only changes sources). hasSub and
// hasState say whether the files exist in the changeset.
func subrepoState(hgsub string, hasSub bool, hgsubstate string, hasState bool) (state []subrepo, problems []subProblem) {
	var items [][2]string
	if hasSub {
		var p []subProblem
		items, p = parseHgsub(hgsub)
		problems = append(problems, p...)
	}
	revs := map[string]string{}
	if hasState {
		var p []subProblem
		revs, p = parseHgsubstate(hgsubstate)
		problems = append(problems, p...)
	}
	for _, it := range items {
		path, src := it[0], it[1]
		kind := "hg"
		if strings.HasPrefix(src, "[") {
			k, rest, ok := strings.Cut(src, "]")
			if !ok {
				problems = append(problems, subProblem{Kind: WarnHgsubSyntax, Path: path, Message: "missing ] in subrepository source"})
				continue
			}
			kind = k[1:]
			src = strings.TrimLeft(rest, " \t\n\r\v\f")
		}
		state = append(state, subrepo{Path: path, Kind: kind, Source: strings.Trim(src, " \t\n\r\v\f"), Rev: revs[path]})
	}
	return state, problems
}

// gitlinkHash parses a [git] subrepository revision as dulwich's
// hex_to_sha would: exactly 40 hex digits, either case.
func gitlinkHash(rev string) (h [20]byte, ok bool) {
	if len(rev) != 40 {
		return h, false
	}
	for i := 0; i < 20; i++ {
		hi, ok1 := unhex(rev[2*i])
		lo, ok2 := unhex(rev[2*i+1])
		if !ok1 || !ok2 {
			return h, false
		}
		h[i] = hi<<4 | lo
	}
	return h, true
}

// unsafePath reports whether hg-git (hggit.invalidpaths = skip, its default)
// leaves path out of Git trees: a component that is ".git" once the
// codepoints HFS+ ignores are removed, or one like "GIT~1" (an 8.3 short
// name of .git).
func unsafePath(path string) bool {
	for len(path) > 0 {
		c := path
		if i := strings.IndexByte(path, '/'); i >= 0 {
			c, path = path[:i], path[i+1:]
		} else {
			path = ""
		}
		if hfsIgnoreClean(c) == ".git" {
			return true
		}
		if base, tail, ok := strings.Cut(c, "~"); ok && tail != "" && isASCIIDigits(tail) &&
			strings.HasPrefix(strings.ToUpper(base), "GIT") {
			return true
		}
	}
	return false
}

func isASCIIDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// hfsIgnored are the UTF-8 encodings of the codepoints HFS+ ignores
// (Mercurial's encoding._ignore).
var hfsIgnored = [][]byte{
	[]byte("\u200c"), []byte("\u200d"), []byte("\u200e"), []byte("\u200f"),
	[]byte("\u202a"), []byte("\u202b"), []byte("\u202c"), []byte("\u202d"), []byte("\u202e"),
	[]byte("\u206a"), []byte("\u206b"), []byte("\u206c"), []byte("\u206d"), []byte("\u206e"), []byte("\u206f"),
	[]byte("\ufeff"),
}

// hfsIgnoreClean is Mercurial's encoding.hfsignoreclean.
func hfsIgnoreClean(s string) string {
	if strings.IndexByte(s, 0xe2) < 0 && strings.IndexByte(s, 0xef) < 0 {
		return s
	}
	b := []byte(s)
	for _, c := range hfsIgnored {
		b = bytes.ReplaceAll(b, c, nil)
	}
	return string(b)
}
