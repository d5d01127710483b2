package hg

import "fmt"

// UnsupportedError reports a repository format this package cannot read,
// such as a requirement in .hg/requires (treemanifest, revlog-v2, narrow,
// lfs, ...).
type UnsupportedError struct {
	Requirement string // the requirement or feature, e.g. "treemanifest"
	Path        string // the file that named it, if known
}

func (e *UnsupportedError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("hg: unsupported repository format %q (in %s)", e.Requirement, e.Path)
	}
	return fmt.Sprintf("hg: unsupported repository format %q", e.Requirement)
}
