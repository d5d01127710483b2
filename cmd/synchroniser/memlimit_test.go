package main

import (
	"testing"

	"github.com/synchroniser/synchroniser/internal/convert"
)

func TestSyncMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		memory int64
		syncs  int
		want   int64
	}{
		{0, 0, 0}, // no workers: no limit
		{0, 1, convert.DefaultMemory*7/8 + serviceMemory},
		{0, 4, 4*(convert.DefaultMemory*7/8) + serviceMemory},
		{64 << 20, 2, 2*(56<<20) + serviceMemory},
		{1, 1, convert.MinMemory*7/8 + serviceMemory}, // below the converter's floor
	} {
		if got := syncMemoryLimit(tc.memory, tc.syncs); got != tc.want {
			t.Errorf("syncMemoryLimit(%d, %d) = %d, want %d", tc.memory, tc.syncs, got, tc.want)
		}
	}
}
