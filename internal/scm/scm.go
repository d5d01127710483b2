// Package scm names the version-control systems a source repository may
// use. Kind is a string type, so configuration files, webhook payloads and
// JSON keep their spelling ("hg", "git").
package scm

// Kind is a source repository's version-control system.
type Kind string

// The version-control systems a mirror's source may use.
const (
	Hg  Kind = "hg"
	Git Kind = "git"
)

// Valid reports whether k is Hg or Git.
func (k Kind) Valid() bool { return k == Hg || k == Git }
