package config

import "github.com/synchroniser/synchroniser/internal/mirror"

// validTransport reports whether t is a transport name or "" (the
// default: a mirror's is [tools] transport).
func validTransport(t string) bool { return mirror.Transport(t).Valid() }

// Transport returns the transport mirror name pulls its Mercurial source
// with: the mirror's own, else [tools] transport.
func (c *Config) Transport(name string) mirror.Transport {
	if mc, ok := c.MirrorConfig(name); ok && mc.Transport != "" {
		return mirror.Transport(mc.Transport)
	}
	return mirror.Transport(c.Tools.Transport)
}

// NeedsHg reports whether syncs need the hg program whatever the sources
// serve: the hg transport or the hg-git converter somewhere, or local
// sources allowed (only hg reads those). Otherwise hg is only the native
// transport's fallback.
func (c *Config) NeedsHg() bool {
	if c.Tools.Transport == string(mirror.TransportHg) || c.Tools.Converter == "hg-git" || c.Source.AllowFile {
		return true
	}
	for _, m := range c.Mirror {
		if m.Transport == string(mirror.TransportHg) || m.Converter == "hg-git" {
			return true
		}
	}
	return false
}
