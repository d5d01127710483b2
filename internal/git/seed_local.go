package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/synchroniser/synchroniser/internal/limitio"
)

// OpSeed is the op (in logs and Error.Op) of SeedLocal's last step, the
// refs written: what a push's "push" is for a pushed destination.
const OpSeed = "seed"

// ErrNotSeedable is returned by SeedLocal, which then did nothing, for a
// destination it does not write itself: the caller pushes instead.
var ErrNotSeedable = errors.New("not a local bare repository that takes objects unchecked")

// SeedLocal creates the refs refs (each must not exist yet) in the local
// bare repository remote (an absolute path or a file:// URL) with the
// objects they reach in the repository gitDir: what `git push` of them
// leaves there, for a destination that has nothing yet. A push sends
// every object through receive-pack's index-pack, which inflates and
// hashes the whole history again to name what it received (flask: most of
// a first push's time); here git pack-objects runs in remote, with
// gitDir's objects as an alternate for that one command, and writes one
// pack of the objects the refs reach and its index there itself: it knows
// their names, and reuses the deltas of gitDir's packs (the converter's or
// the fetch's) without searching for new ones, as a push from gitDir
// would. Missing objects fail pack-objects, so the refs are created (in
// one transaction, ErrStaleRef when one appeared meanwhile) only once
// everything they reach is there.
//
// Like a push from this Runner, it runs no hooks. ErrNotSeedable means
// remote is no local bare repository (a URL, a work tree's .git), or one
// that checks the objects it receives (receive.fsckObjects or
// transfer.fsckObjects), or gitDir's path cannot be an alternate.
func (r *Runner) SeedLocal(ctx context.Context, gitDir, remote string, refs map[string]Hash) error {
	if err := r.checkRemote("push", remote); err != nil {
		return err
	}
	dest, ok := localPath(remote)
	if !ok || !isBare(dest) {
		return fmt.Errorf("git: seed %s: %w", redactURL(remote), ErrNotSeedable)
	}
	objects, err := filepath.Abs(filepath.Join(gitDir, "objects"))
	if err != nil || strings.ContainsAny(objects, ":\"") {
		// GIT_ALTERNATE_OBJECT_DIRECTORIES separates paths with colons.
		return fmt.Errorf("git: seed %s: cache path %q: %w", redactURL(remote), objects, ErrNotSeedable)
	}
	if len(refs) == 0 {
		return nil
	}
	names := make([]string, 0, len(refs))
	for name, h := range refs {
		if err := checkRefName(name); err != nil || h.IsZero() {
			return &Error{Op: "push", Remote: redactURL(remote), ExitCode: -1, Kind: ErrRemoteNotAllowed, Err: fmt.Errorf("ref %q to %s", name, h)}
		}
		names = append(names, name)
	}
	slices.Sort(names)
	if ok, err := r.takesUnchecked(ctx, dest); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("git: seed %s: %w", redactURL(remote), ErrNotSeedable)
	}

	var tips bytes.Buffer
	seen := map[Hash]bool{}
	for _, name := range names {
		if h := refs[name]; !seen[h] {
			seen[h] = true
			fmt.Fprintf(&tips, "%s\n", h)
		}
	}
	pack := *r
	pack.Env = append(slices.Clip(r.Env), "GIT_ALTERNATE_OBJECT_DIRECTORIES="+objects)
	out, err := pack.run(ctx, "pack-objects", "", dest, tips.Bytes(), []string{"--git-dir=" + dest, "pack-objects", "-q",
		"--revs", "--delta-base-offset", "--window=0", filepath.Join(dest, "objects", "pack", "pack")})
	if err != nil {
		return err
	}
	// One pack's name a line (pack.packSizeLimit may make several).
	for _, name := range strings.Fields(string(out)) {
		if _, err := ParseHash(name); err != nil {
			return fmt.Errorf("git: seed %s: pack-objects printed %q", redactURL(remote), limitio.Clip(string(out), 100))
		}
	}
	changes := make([]RefChange, 0, len(names))
	for _, name := range names {
		changes = append(changes, RefChange{Name: name, New: refs[name], CheckOld: true})
	}
	// Op "seed": its end is the end of the push this seeding replaces.
	return r.updateRefs(ctx, OpSeed, dest, changes)
}

// takesUnchecked reports whether the repository dest is bare by its
// configuration and does not ask for the objects it receives to be
// checked (which a push would do and SeedLocal does not).
func (r *Runner) takesUnchecked(ctx context.Context, dest string) (bool, error) {
	out, err := r.run(ctx, "config", "", dest, nil, []string{"--git-dir=" + dest, "config", "--type=bool", "--get-regexp",
		`^(core\.bare|receive\.fsckobjects|transfer\.fsckobjects)$`})
	var e *Error
	if errors.As(err, &e) && e.ExitCode == 1 && e.Stderr == "" {
		return false, nil // none set: not bare by its configuration
	}
	if err != nil {
		return false, err
	}
	bare := false
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		key, value, _ := strings.Cut(line, " ")
		switch {
		case key == "core.bare":
			bare = value == "true"
		case value == "true": // a fsckObjects setting
			return false, nil
		}
	}
	return bare, nil
}

// localPath returns the directory a local remote (an absolute path, or a
// file:// URL without a host) names.
func localPath(remote string) (string, bool) {
	if filepath.IsAbs(remote) {
		return filepath.Clean(remote), true
	}
	u, err := url.Parse(remote)
	if err != nil || u.Scheme != "file" || (u.Host != "" && u.Host != "localhost") || u.RawQuery != "" || !filepath.IsAbs(u.Path) {
		return "", false
	}
	return filepath.Clean(u.Path), true
}
