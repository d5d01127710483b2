// Package mirror defines a mirror (a source repository, a Git destination and
// the policy mapping one's refs to the other's) and the sync pipeline that
// keeps them equal: pull into a per-mirror cache, convert, push what changed.
//
// # Cache layout
//
// Each mirror has a directory <CacheDir>/<name>/ holding:
//
//	lock           flock(2)ed for the whole sync (see Lock)
//	hg/            Mercurial mirrors: `hg clone --noupdate` of the source, pulled afterwards;
//	hg/.hg/git     the converted Git repository (bare), as hg-git keeps it
//	hg/.hg/git-mapfile   hg-git's map, "<git sha> <hg node>" a line
//	hg.source      identifies the source the clone came from (a changed source re-clones)
//	hg.partial/    a clone in progress, renamed to hg/ when complete
//	git/           Git mirrors: a bare repository fetched into
//
// A cache that cannot be used (an interrupted clone, a store hg cannot read,
// a pull that reports corruption) is cloned again; an interrupted hg
// transaction is rolled back with `hg recover` first.
//
// # The source's state
//
// The hg cache holds the source's state exactly (hg_cache.go): its
// bookmarks are cleared before each pull, so the pull sets the source's
// (never a NAME@path divergent bookmark, never a stale one); obsolescence
// markers are exchanged with the changesets (hg.EvolutionConfig), so what
// is obsolete at the source is hidden in the cache; changesets the source
// no longer serves (`hg outgoing`: stripped, or made secret) are stripped
// from the cache; drafts the cache holds as public are made drafts again
// (the source's draft roots, from listkeys). The state read from the cache
// (hg.SourceState: heads, bookmarks, phases, markers, hidden, stripped,
// publishing) is Result.Source, and its excluded set (hidden and secret)
// is never converted.
//
// # Refs
//
// Only refs the policy produces are ever pushed; refs the destination has
// and the source no longer produces (a deleted bookmark) are left alone.
// An update is pushed when the destination's value is an ancestor of the
// new one; otherwise (including a value the cache does not know, and any
// moved tag) the sync fails with a BadRequest *Error wrapping a
// *DivergedError and nothing is pushed, unless the policy forces. All
// updates of a sync go in one atomic push.
package mirror
