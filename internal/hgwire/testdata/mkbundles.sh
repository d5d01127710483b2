#!/bin/sh
# Regenerates the real bundles in this directory (hg 6.3.2 with evolve).
# Run from anywhere; needs hg and hgext3rd.evolve.
set -eu
out=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HGRCPATH=/dev/null HGUSER="Test <test@example.com>" HGPLAIN=1 TZ=UTC
r="$tmp/repo"
hg init "$r"
cd "$r"
printf '[phases]\npublish=False\n[extensions]\nevolve=\n[experimental]\nevolution=all\nchangegroup3=True\n' > .hg/hgrc
echo a > a; hg add a; hg ci -qm a -d '1000000 0'
echo b > b; hg add b; hg ci -qm b -d '1000001 -3600'
hg bookmark -q bm1
echo c >> a; hg ci -qm c -d '1000002 0'
hg phase -p 0
hg cp a 'with space.txt'; echo d >> b; hg ci -qm d -d '1000003 0'
hg commit -q --amend -m d2 -d '1000004 0'
hg bundle -q --type 'none-v2;obsolescence=true;phases=true' --all "$out/small-none.hg"
hg bundle -q --type 'zstd-v2;obsolescence=true;phases=true' --all "$out/small-zstd.hg"
hg bundle -q --type 'gzip-v2' --all "$out/small-gzip.hg"
hg bundle -q --type 'none-v2;cg.version=03' --all "$out/small-cg3.hg"
# A stream clone bundle (stream2 part) of a repository without markers: a
# file name the store encodes (Dir/B.TXT), a copy, drafts (phaseroots).
s="$tmp/stream"
hg init "$s"
cd "$s"
printf '[phases]\npublish=False\n' > .hg/hgrc
echo a > a; hg add a; hg ci -qm a -d '1000000 0'
mkdir Dir; echo b > Dir/B.TXT; hg add Dir/B.TXT; hg ci -qm b -d '1000001 -3600'
hg cp a 'with space.txt'; echo c >> a; hg ci -qm c -d '1000002 0'
hg phase -p 1
hg bundle -q --type 'none-v2;stream=v2' --all "$out/small-stream.hg"
