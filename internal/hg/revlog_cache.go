package hg

// SetCache bounds the texts rl keeps to texts texts and about bytes bytes
// (0: no byte bound; the newest is always kept): a reader of every
// revision in order, whose delta bases are often further back than the
// last few, finds them there instead of applying their chains again.
// Call it before reading.
func (rl *Revlog) SetCache(texts, bytes int) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	rl.cacheMax, rl.cacheBytes = max(texts, 1), max(bytes, 0)
}
