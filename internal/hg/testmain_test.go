package hg

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

var (
	corpusMu   sync.Mutex
	corpusDirs = map[string]string{}
	corpusRoot string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hgcorpus")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	corpusRoot = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
