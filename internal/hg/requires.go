package hg

import (
	"bufio"
	"bytes"
	"sort"
)

// supportedRequirements are the .hg/requires entries this package reads
// correctly: formats Mercurial 5.x–6.x create by default and entries that
// concern only the working copy, caches or phases.
var supportedRequirements = map[string]bool{
	"revlogv1":                true,
	"store":                   true,
	"fncache":                 true,
	"dotencode":               true,
	"generaldelta":            true,
	"sparserevlog":            true,
	"share-safe":              true,
	"exp-sharesafe":           true,
	"shared":                  true,
	"relshared":               true,
	"persistent-nodemap":      true,
	"dirstate-v2":             true,
	"exp-dirstate-v2":         true,
	"exp-rc-dirstate-v2":      true,
	"tracked-hint":            true,
	"exp-tracked-hint":        true,
	"revlog-compression-zstd": true,
	"exp-compression-zstd":    true,
	"bookmarksinstore":        true,
	"internal-phase":          true,
	"exp-internal-phase":      true,
	"archived-phase":          true,
	"exp-archived-phase":      true,
	"exp-sparse":              true,
}

// readRequires reads a requires file (one entry a line). A missing file is
// an empty set.
func readRequires(path string) (map[string]bool, error) {
	b, err := readOptional(path)
	if err != nil {
		return nil, err
	}
	return parseRequires(b), nil
}

func parseRequires(b []byte) map[string]bool {
	req := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, len(b)+1)
	for sc.Scan() {
		if line := string(bytes.TrimSpace(sc.Bytes())); line != "" {
			req[line] = true
		}
	}
	return req
}

// checkRequires returns an *UnsupportedError for the first (sorted)
// requirement this package cannot honour.
func checkRequires(req map[string]bool, path string) error {
	var bad []string
	for r := range req {
		if !supportedRequirements[r] {
			bad = append(bad, r)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return &UnsupportedError{Requirement: bad[0], Path: path}
	}
	if !req["revlogv1"] {
		return &UnsupportedError{Requirement: "revlogv0 (no revlogv1 requirement)", Path: path}
	}
	return nil
}
