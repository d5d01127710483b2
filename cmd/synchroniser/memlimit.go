package main

import (
	"os"
	"runtime/debug"

	"github.com/synchroniser/synchroniser/internal/convert"
)

// serviceMemory is what a process needs beside its conversions: the HTTP
// service, the queue, database connections, the parsing of webhooks.
const serviceMemory = 64 << 20

// syncMemoryLimit is the garbage collector's soft limit for a process that
// runs up to syncs native conversions at once, each bounded by memory (0:
// the converter's default): 7/8 of each bound, as `synchroniser convert`
// gives its one conversion, plus serviceMemory. 0 when it runs none.
func syncMemoryLimit(memory int64, syncs int) int64 {
	if syncs <= 0 {
		return 0
	}
	if memory <= 0 {
		memory = convert.DefaultMemory
	}
	return int64(syncs)*(max(memory, convert.MinMemory)*7/8) + serviceMemory
}

// setMemoryLimit makes n bytes the garbage collector's soft memory limit
// (debug.SetMemoryLimit), so that the converters' bounds hold for the whole
// process, unless n is 0 or GOMEMLIMIT says otherwise.
func setMemoryLimit(n int64) {
	if n > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(n)
	}
}
