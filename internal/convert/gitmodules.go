package convert

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/synchroniser/synchroniser/internal/git"
)

// gitmodules11 writes what hg-git 1.1.x adds beside gitlinks: a .gitmodules
// blob at the root, made when .hgsub or .hgsubstate changed and the new
// state has a [git] subrepository (IncrementalChangesetExporter.
// _handle_subrepos). It starts from the tracked .gitmodules (hg-git 1.1
// never exports that file itself) or from nothing, and sets, for each [git]
// subrepository in .hgsub's order, `path` and `url` in the section
// [submodule "NAME"] (NAME the one the tracked file gives that path, else
// the path). Its mode is .hgsub's. When no [git] subrepository is left, the
// tree keeps the .gitmodules it had, as hg-git does.
func (c *converter) gitmodules11(j *job, add objectSink, dirty map[string]bool) error {
	entries, _ := subrepoState(j.sub.hgsub, j.sub.hasSub, j.sub.hgsubstate, j.sub.hasState)
	var gits []subrepo
	for _, e := range entries {
		if e.Kind == "git" {
			gits = append(gits, e)
		}
	}
	if len(gits) == 0 {
		return nil
	}
	var h git.Hash
	cfg := &gitConfig{}
	if j.sub.hasGitmodules {
		var err error
		if cfg, err = parseGitConfig(j.sub.gitmodules); err != nil {
			return fmt.Errorf("hggit 1.1: tracked .gitmodules: %w", err)
		}
	}
	sms, err := cfg.submodules()
	if err != nil {
		return fmt.Errorf("hggit 1.1: tracked .gitmodules: %w", err)
	}
	names := map[string]string{}
	for _, sm := range sms {
		names[sm.path] = sm.name
	}
	for _, e := range gits {
		name, ok := names[e.Path]
		if !ok {
			name = e.Path
		}
		sec := []string{"submodule", name}
		cfg.set(sec, "path", e.Path)
		cfg.set(sec, "url", e.Source)
	}
	mode := uint32(git.ModeFile)
	if hgsub, ok := lookup(j.mf, ".hgsub"); ok {
		mode = fileMode(hgsub.Flags)
	}
	h, err = add(git.BlobObject, cfg.bytes(), git.Hash{})
	if err != nil {
		return err
	}
	c.trees.add(".gitmodules", mode, h, dirty)
	return nil
}

// gitConfig is a Git configuration file as dulwich's ConfigFile keeps it:
// sections in the order first seen, found case-insensitively (ASCII), each
// with every value ever set in order (setting a name again appends a line,
// it does not replace the first).
type gitConfig struct {
	sections []*gitSection
}

type gitSection struct {
	name []string // one part, or section and subsection
	vals [][2]string
}

func lowerKey(name []string) string {
	parts := make([]string, len(name))
	for i, p := range name {
		parts[i] = asciiLower(p)
	}
	return strings.Join(parts, "\x00") + fmt.Sprint(len(name))
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func (g *gitConfig) section(name []string) *gitSection {
	k := lowerKey(name)
	for _, s := range g.sections {
		if lowerKey(s.name) == k {
			return s
		}
	}
	s := &gitSection{name: name}
	g.sections = append(g.sections, s)
	return s
}

func (g *gitConfig) set(name []string, key, value string) {
	s := g.section(name)
	s.vals = append(s.vals, [2]string{key, value})
}

// get returns the last value set for key (dulwich's keyed lookup).
func (s *gitSection) get(key string) (string, bool) {
	lk := asciiLower(key)
	for i := len(s.vals) - 1; i >= 0; i-- {
		if asciiLower(s.vals[i][0]) == lk {
			return s.vals[i][1], true
		}
	}
	return "", false
}

type submodule struct{ path, url, name string }

// submodules is dulwich's parse_submodules: the [submodule "NAME"]
// sections with their path and url (both must be there).
func (g *gitConfig) submodules() ([]submodule, error) {
	var out []submodule
	for _, s := range g.sections {
		if len(s.name) != 2 {
			// dulwich unpacks every section into (kind, name) and fails.
			return nil, fmt.Errorf("section [%s] has no subsection", s.name[0])
		}
		if asciiLower(s.name[0]) != "submodule" {
			continue
		}
		p, ok1 := s.get("path")
		u, ok2 := s.get("url")
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("[submodule %q] has no path or no url", s.name[1])
		}
		out = append(out, submodule{path: p, url: u, name: s.name[1]})
	}
	return out, nil
}

// bytes writes the file as dulwich's write_to_file does.
func (g *gitConfig) bytes() []byte {
	var b bytes.Buffer
	for _, s := range g.sections {
		if len(s.name) == 1 {
			b.WriteString("[" + s.name[0] + "]\n")
		} else {
			b.WriteString("[" + s.name[0] + ` "` + s.name[1] + "\"]\n")
		}
		for _, kv := range s.vals {
			b.WriteString("\t" + kv[0] + " = " + formatGitValue(kv[1]) + "\n")
		}
	}
	return b.Bytes()
}

// formatGitValue is dulwich's _format_string.
func formatGitValue(v string) string {
	e := strings.NewReplacer(`\`, `\\`, "\r", `\r`, "\n", `\n`, "\t", `\t`, `"`, `\"`).Replace(v)
	if strings.HasPrefix(v, " ") || strings.HasPrefix(v, "\t") || strings.HasSuffix(v, " ") || strings.HasSuffix(v, "\t") || strings.Contains(v, "#") {
		return `"` + e + `"`
	}
	return e
}

// parseGitConfig reads a configuration file as dulwich 0.21's
// ConfigFile.from_file does, failing where it raises ValueError.
func parseGitConfig(text string) (*gitConfig, error) {
	g := &gitConfig{}
	var sec *gitSection
	var setting, cont string
	inSetting := false
	lines := strings.SplitAfter(text, "\n")
	for n, line := range lines {
		if line == "" {
			continue
		}
		if n == 0 {
			line = strings.TrimPrefix(line, "\xef\xbb\xbf")
		}
		line = strings.TrimLeft(line, asciiSpace)
		if inSetting {
			switch {
			case strings.HasSuffix(line, "\\\n"):
				cont += line[:len(line)-2]
			case strings.HasSuffix(line, "\\\r\n"):
				cont += line[:len(line)-3]
			default:
				v, err := parseGitValue(cont + line)
				if err != nil {
					return nil, fmt.Errorf("line %d: %w", n+1, err)
				}
				sec.vals = append(sec.vals, [2]string{setting, v})
				inSetting = false
			}
			continue
		}
		if strings.HasPrefix(line, "[") {
			name, rest, err := parseGitSectionHeader(line)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n+1, err)
			}
			sec = g.section(name)
			line = rest
		}
		if strings.Trim(stripGitComment(line), asciiSpace) == "" {
			continue
		}
		if sec == nil {
			return nil, fmt.Errorf("line %d: setting without section", n+1)
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			key, value = line, "true"
		}
		key = strings.Trim(key, asciiSpace)
		for i := 0; i < len(key); i++ {
			if !isASCIIAlnum(key[i]) && key[i] != '-' {
				return nil, fmt.Errorf("line %d: invalid variable name %q", n+1, key)
			}
		}
		switch {
		case strings.HasSuffix(value, "\\\n"):
			setting, cont, inSetting = key, value[:len(value)-2], true
		case strings.HasSuffix(value, "\\\r\n"):
			setting, cont, inSetting = key, value[:len(value)-3], true
		default:
			v, err := parseGitValue(value)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n+1, err)
			}
			sec.vals = append(sec.vals, [2]string{key, v})
		}
	}
	return g, nil
}

func isASCIIAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// stripGitComment is dulwich's _strip_comments: cut at the first "#" or
// ";" outside double quotes.
func stripGitComment(line string) string {
	open := false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '"':
			open = !open
		case !open && (c == '#' || c == ';'):
			return line[:i]
		}
	}
	return line
}

// parseGitSectionHeader is dulwich's _parse_section_header_line.
func parseGitSectionHeader(line string) (name []string, rest string, err error) {
	line = strings.TrimRight(stripGitComment(line), asciiSpace)
	inQuotes, escaped, last := false, false, -1
	for i := 0; i < len(line); i++ {
		c := line[i]
		if escaped {
			escaped = false
			continue
		}
		if c == '"' {
			inQuotes = !inQuotes
		}
		if c == '\\' {
			escaped = true
		}
		if c == ']' && !inQuotes {
			last = i
			break
		}
	}
	if last < 0 {
		return nil, "", fmt.Errorf("expected trailing ]")
	}
	checkName := func(s string) error {
		for i := 0; i < len(s); i++ {
			if !isASCIIAlnum(s[i]) && s[i] != '-' && s[i] != '.' {
				return fmt.Errorf("invalid section name %q", s)
			}
		}
		return nil
	}
	head, sub, two := strings.Cut(line[1:last], " ")
	rest = line[last+1:]
	if two {
		if !strings.HasPrefix(sub, `"`) || !strings.HasSuffix(sub, `"`) {
			return nil, "", fmt.Errorf("invalid subsection %q", sub)
		}
		if len(sub) >= 2 {
			sub = sub[1 : len(sub)-1]
		} else {
			sub = "" // Python: b'"'[1:-1]
		}
		if err := checkName(head); err != nil {
			return nil, "", err
		}
		return []string{head, sub}, rest, nil
	}
	if err := checkName(head); err != nil {
		return nil, "", err
	}
	if a, b, ok := strings.Cut(head, "."); ok {
		return []string{a, b}, rest, nil
	}
	return []string{head}, rest, nil
}

// parseGitValue is dulwich's _parse_string.
func parseGitValue(value string) (string, error) {
	value = strings.Trim(value, asciiSpace)
	var ret, ws []byte
	inQuotes := false
	for i := 0; i < len(value); i++ {
		c := value[i]
		switch {
		case c == '\\':
			i++
			if i >= len(value) {
				return "", fmt.Errorf("escape character before end of string")
			}
			var v byte
			switch value[i] {
			case '\\':
				v = '\\'
			case '"':
				v = '"'
			case 'n':
				v = '\n'
			case 't':
				v = '\t'
			case 'b':
				v = '\b'
			default:
				return "", fmt.Errorf("escape character followed by unknown character %q", value[i])
			}
			ret = append(ret, ws...)
			ws = ws[:0]
			ret = append(ret, v)
		case c == '"':
			inQuotes = !inQuotes
		case (c == '#' || c == ';') && !inQuotes:
			i = len(value)
		case c == '\t' || c == ' ':
			ws = append(ws, c)
		default:
			ret = append(ret, ws...)
			ws = ws[:0]
			ret = append(ret, c)
		}
	}
	if inQuotes {
		return "", fmt.Errorf("missing end quote")
	}
	return string(ret), nil
}
