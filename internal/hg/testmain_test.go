package hg

import (
	"os"
	"testing"

	"github.com/synchroniser/synchroniser/internal/hgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	_ = hgtest.Cleanup()
	os.Exit(code)
}
