package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/synchroniser/synchroniser/internal/config"
	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/mirror"
	"github.com/synchroniser/synchroniser/internal/scm"
)

func init() {
	commands["adopt"] = command{"take over an existing hg-git mirror's map and objects", runAdopt}
}

const adoptUsage = `usage: synchroniser adopt [flags] (--from HGREPO | --map FILE) NAME

Makes an existing hg-git conversion the starting point of mirror NAME, so
that its destination carries on without a force-push: HGREPO's
.hg/git-mapfile and .hg/git objects go into the mirror's cache
(<cache>/NAME/hg), and later syncs convert only changesets not in the map,
on top of the adopted commits. With --map, only a map file is taken and the
destination's commits are fetched instead. Nothing changes unless the map
parses, names only changesets of the repository and only commits that are
there; destination refs whose commit the map does not name are reported.

NAME is a [[mirror]] of --config, or a one-shot mirror given by --source and
--dest (as synchroniser mirror --name NAME SOURCE DEST uses it).

Flags:
`

func runAdopt(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var (
		cfgFile, cache, source, dest, from, mapFile string
		jsonOut, verbose                            bool
		timeout                                     time.Duration
		sf                                          settingsFlags
	)
	fs := newFlagSet("adopt")
	fs.StringVar(&cfgFile, "config", os.Getenv("SYNCHRONISER_CONFIG"), "configuration `file` naming the mirror")
	fs.StringVar(&cache, "cache", "", "cache `dir` (default: the configuration's, else $XDG_CACHE_HOME/synchroniser)")
	fs.StringVar(&source, "source", "", "the mirror's Mercurial `source` (without --config)")
	fs.StringVar(&dest, "dest", "", "the mirror's Git `destination` (without --config)")
	fs.StringVar(&from, "from", "", "hg-git working `repository` to adopt")
	fs.StringVar(&mapFile, "map", "", "hg-git map `file` to adopt (commits fetched from the destination)")
	fs.BoolVar(&jsonOut, "json", false, "print the result as JSON")
	fs.BoolVar(&verbose, "verbose", false, "log each step to stderr")
	fs.DurationVar(&timeout, "timeout", time.Hour, "give up after this `duration`")
	sf.register(fs)
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "synchroniser: adopt: "+format+"\n", a...)
		fmt.Fprintln(stderr, "usage: synchroniser adopt [--cache DIR] [--config FILE | --source URL --dest URL] (--from HGREPO | --map FILE) NAME (see synchroniser adopt -h)")
		return 2
	}
	operands, code, ok := parseOperands(fs, args, adoptUsage, stdout, usageErr)
	if !ok {
		return code
	}
	if len(operands) != 1 {
		return usageErr("want one NAME, have %d operand(s)", len(operands))
	}
	name := operands[0]
	if !mirror.ValidName(name) {
		return usageErr("NAME %q: want letters, digits, '.', '_' or '-'", name)
	}
	if (from == "") == (mapFile == "") {
		return usageErr("give one of --from HGREPO and --map FILE")
	}
	if timeout <= 0 {
		return usageErr("--timeout must be positive")
	}
	failed := func(err error) int {
		fmt.Fprintf(stderr, "synchroniser: adopt: %s\n", oneLine(err.Error()))
		return 1
	}
	logger := stepLogger(stderr, verbose)

	var (
		m        mirror.Mirror
		s        *mirror.Syncer
		settings convert.Settings
	)
	if cfgFile != "" {
		if source != "" || dest != "" {
			return usageErr("--source and --dest are for a mirror without --config")
		}
		cfg, err := config.Load(cfgFile, os.LookupEnv)
		if err != nil {
			return failed(err)
		}
		if m, ok = cfg.ResolveName(name); !ok {
			return failed(fmt.Errorf("no mirror named %q in %s", name, cfgFile))
		}
		if settings, err = cfg.ConvertSettings(name); err != nil {
			return failed(err)
		}
		s = newSyncer(cfg, nil, logger) // leases stay with the service's database
	} else {
		if source == "" || dest == "" {
			return usageErr("without --config, give the mirror's --source and --dest")
		}
		var err error
		if settings, err = sf.resolve(); err != nil {
			return usageErr("%s", strings.TrimPrefix(err.Error(), "convert: "))
		}
		m = mirror.Mirror{Name: name, SCM: scm.Hg, Source: localAbs(source), Dest: mirror.Destination{URL: localAbs(dest)}, Policy: mirror.DefaultPolicy()}
		s = &mirror.Syncer{Hg: &hg.Runner{}, Git: &git.Runner{}, Logger: logger, AllowFile: true, AllowHTTP: true}
		if cache == "" {
			if cache, err = userCacheDir(); err != nil {
				return usageErr("no cache directory (set --cache): %v", err)
			}
		}
	}
	if cache != "" {
		abs, err := filepath.Abs(cache)
		if err != nil {
			return failed(err)
		}
		s.CacheDir = abs
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := s.Adopt(ctx, m, mirror.AdoptRequest{From: from, Map: mapFile, Settings: settings})
	if err != nil {
		return failed(err)
	}
	if jsonOut {
		if res.RefsNotInMap == nil {
			res.RefsNotInMap = []string{}
		}
		if err := writeJSON(stdout, res); err != nil {
			return failed(err)
		}
		return 0
	}
	fmt.Fprintf(stdout, "%s: adopted %d commits from %s (cache %s); %d of the destination's %d branches and tags are among them\n",
		name, res.Mapped, res.From, res.Cache, res.DestRefs-len(res.RefsNotInMap), res.DestRefs)
	for _, ref := range res.RefsNotInMap {
		fmt.Fprintf(stderr, "warning: destination ref %s (%s) is not a commit of the map: a sync will refuse to move it unless forced\n", ref, res.Refs[ref][:12])
	}
	return 0
}

// serveAdopter is the service's web.Adopter: the destination's credentials
// are completed (GitHub App tokens) as for a sync.
type serveAdopter struct {
	syncer *mirror.Syncer
	apps   *appTokens
}

func (a *serveAdopter) Adopt(ctx context.Context, m mirror.Mirror, req mirror.AdoptRequest) (*mirror.AdoptResult, error) {
	if err := a.apps.authorise(ctx, &m); err != nil {
		return nil, err
	}
	return a.syncer.Adopt(ctx, m, req)
}
