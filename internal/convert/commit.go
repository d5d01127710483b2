package convert

import (
	"sort"
	"strconv"
	"strings"

	"github.com/synchroniser/synchroniser/internal/git"
)

// changeset is what commit building needs from a Mercurial changeset; it is
// filled from hg.Changeset so that the rules below can be tested and fuzzed
// without a repository.
type changeset struct {
	User        string
	Time        int64
	TZ          int64 // seconds west of UTC, as Mercurial stores it
	Extra       map[string]string
	Description string
	Authors     *Authors // hg-git's git.authors, applied first (nil: none)
}

// commitMeta returns the author, committer, extra header lines and message
// hg-git 1.0.x writes for cs (git_handler.export_hg_commit,
// get_git_author and get_git_message_and_extra). renames are the
// (source, destination) pairs of the changeset's copies, in the order of its
// file list.
func commitMeta(cs *changeset, renames [][2]string) (author, committer string, extra [][2]string, message string) {
	tz := cs.TZ
	tz -= pyMod(tz, 60) // hg-git rounds sub-minute offsets down
	authorTZ := -tz
	user := localUTF8(cs.User)
	if to, ok := cs.Authors.Translate(user); ok {
		user = to
	}
	ident := gitIdent(user)
	if d, ok := cs.Extra["author"]; ok {
		if out, err := git.ApplyDelta([]byte(ident), []byte(d)); err == nil {
			ident = string(out)
		}
	}
	author = ident + " " + strconv.FormatInt(cs.Time, 10) + " " + formatTZ(authorTZ, false)
	committer = author
	if c, ok := cs.Extra["committer"]; ok {
		if s, ok := committerFromExtra(c); ok {
			committer = s
		}
	}

	message = localUTF8(cs.Description) + "\n"
	if d, ok := cs.Extra["message"]; ok {
		if out, err := git.ApplyDelta([]byte(message), []byte(d)); err == nil {
			message = string(out)
		}
	}
	branch := "default"
	if b, ok := cs.Extra["branch"]; ok {
		branch = localUTF8(b)
	}
	extraMessage := ""
	if branch != "default" {
		extraMessage = "branch : " + branch + "\n"
	}

	// Git's own extra header items, stored by hg-git as GIT<n>-<field>, come
	// first, ordered by (n, field, value).
	type gitItem struct {
		n            int64
		field, value string
	}
	var gitItems []gitItem
	hgExtra := make([]string, 0, len(cs.Extra))
	for k, v := range cs.Extra {
		if n, field, ok := gitExtraKey(k); ok {
			gitItems = append(gitItems, gitItem{n, field, v})
			continue
		}
		hgExtra = append(hgExtra, k)
	}
	sort.Slice(gitItems, func(i, j int) bool {
		a, b := gitItems[i], gitItems[j]
		if a.n != b.n {
			return a.n < b.n
		}
		if a.field != b.field {
			return a.field < b.field
		}
		return a.value < b.value
	})
	for _, it := range gitItems {
		extra = append(extra, [2]string{unquote(it.field), unquote(it.value)})
	}

	renameSourceGit := cs.Extra["hg-git-rename-source"] == "git"
	if !renameSourceGit {
		for _, r := range renames {
			extra = append(extra, [2]string{"HG:rename", quote(r[0]) + ":" + quote(r[1])})
		}
	}
	sort.Strings(hgExtra)
	for _, k := range hgExtra {
		switch k {
		case "author", "committer", "encoding", "message", "branch", "hg-git", "hg-git-rename-source":
			continue
		}
		extra = append(extra, [2]string{"HG:extra", quote(k) + ":" + quote(cs.Extra[k])})
	}
	if extraMessage != "" {
		message += "\n--HG--\n" + extraMessage
	}
	if !renameSourceGit && len(extra) == 0 && extraMessage == "" {
		extra = append(extra, [2]string{"HG:rename-source", "hg"})
	}
	return author, committer, extra, message
}

// gitExtraKey matches hg-git's RE_GIT_EXTRA_KEY, GIT([0-9]*)-(.*), at the
// start of key. hg-git fails on an empty number; it counts as 0 here.
func gitExtraKey(key string) (n int64, field string, ok bool) {
	if !strings.HasPrefix(key, "GIT") {
		return 0, "", false
	}
	i := 3
	for i < len(key) && '0' <= key[i] && key[i] <= '9' {
		i++
	}
	if i >= len(key) || key[i] != '-' {
		return 0, "", false
	}
	if i > 3 {
		v, err := strconv.ParseInt(key[3:i], 10, 64)
		if err != nil {
			return 0, "", false
		}
		n = v
	}
	field = key[i+1:]
	if nl := strings.IndexByte(field, '\n'); nl >= 0 {
		field = field[:nl]
	}
	return n, field, true
}

// committerFromExtra turns a "committer" extra ("NAME TIME TZ") into a
// committer line as hg-git does, or reports false where hg-git falls back
// to the author.
func committerFromExtra(c string) (string, bool) {
	// Python: name, timestamp, timezone = c.rsplit(b' ', 2)
	i := strings.LastIndexByte(c, ' ')
	if i < 0 {
		return "", false
	}
	tzs := c[i+1:]
	j := strings.LastIndexByte(c[:i], ' ')
	if j < 0 {
		return "", false
	}
	name, ts := c[:j], c[j+1:i]
	when, ok := parsePyInt(ts)
	if !ok {
		return "", false
	}
	tzi, ok := parsePyInt(tzs)
	if !ok {
		return "", false
	}
	var tz int64
	negUTC := false
	if pyMod(tzi, 60) != 0 {
		// dulwich parse_timezone: "+HHMM" / "-HHMM"
		if tzs == "" || (tzs[0] != '+' && tzs[0] != '-') {
			return "", false
		}
		off, ok := parsePyInt(tzs[1:])
		if !ok {
			return "", false
		}
		if tzs[0] == '-' {
			off = -off
		}
		negUTC = off >= 0 && tzs[0] == '-'
		sign := int64(1)
		if off < 0 {
			sign = -1
			off = -off
		}
		tz = sign * ((off/100)*3600 + (off%100)*60)
	} else {
		tz = -tzi
	}
	return name + " " + strconv.FormatInt(when, 10) + " " + formatTZ(tz, negUTC), true
}

// gitCommit assembles the commit object for cs.
func gitCommit(cs *changeset, parents []git.Hash, tree git.Hash, renames [][2]string) *git.Commit {
	author, committer, extra, message := commitMeta(cs, renames)
	return &git.Commit{
		Tree:      tree,
		Parents:   parents,
		Author:    author,
		Committer: committer,
		Extra:     extra,
		Message:   message,
	}
}
