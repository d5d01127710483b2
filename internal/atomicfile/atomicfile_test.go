package atomicfile_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/synchroniser/synchroniser/internal/atomicfile"
)

// TestWrite replaces a file, durably or not, and leaves it as it was (with
// no temporary file beside it) when the new content cannot be written.
func TestWrite(t *testing.T) {
	boom := errors.New("boom")
	path := filepath.Join(t.TempDir(), "f")
	for i, tc := range []struct {
		durable bool
		body    func(io.Writer) error
		wantErr error
		want    string
	}{
		{false, func(w io.Writer) error { _, err := io.WriteString(w, "one\n"); return err }, nil, "one\n"},
		{true, func(w io.Writer) error { _, err := io.WriteString(w, "two\n"); return err }, nil, "two\n"},
		{true, func(w io.Writer) error { io.WriteString(w, "torn"); return boom }, boom, "two\n"},
	} {
		if err := atomicfile.Write(path, "f.tmp*", tc.durable, tc.body); !errors.Is(err, tc.wantErr) {
			t.Fatalf("%d: error %v, want %v", i, err, tc.wantErr)
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != tc.want {
			t.Fatalf("%d: read %q, %v; want %q", i, b, err, tc.want)
		}
		if names, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*")); len(names) != 1 {
			t.Fatalf("%d: files left: %v", i, names)
		}
	}
	if err := atomicfile.WriteFileUnsynced(path, "f.tmp*", []byte("three\n")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "three\n" {
		t.Fatalf("unsynced: read %q, %v", b, err)
	}
	if names, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*")); len(names) != 1 {
		t.Fatalf("unsynced: files left: %v", names)
	}
	if err := atomicfile.WriteFile(filepath.Join(path, "no", "f"), "f.tmp*", false, nil); err == nil {
		t.Fatal("write into a missing directory: no error")
	}
}

// TestWriteReadable writes files readable by everyone, and a failed write
// (a missing directory, a directory in the way) leaves no temporary file.
func TestWriteReadable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	for _, durable := range []bool{false, true} {
		for _, data := range []string{"one\n", "two, longer\n", ""} {
			if err := atomicfile.WriteReadable(p, []byte(data), durable); err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(p); err != nil || string(got) != data {
				t.Fatalf("after WriteReadable(%q, durable=%v): %q, %v", data, durable, got, err)
			}
		}
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v; want 0644", fi.Mode(), err)
	}
	if err := atomicfile.WriteReadable(filepath.Join(dir, "missing", "f"), []byte("x"), true); err == nil {
		t.Error("WriteReadable into a missing directory succeeded")
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteReadable(filepath.Join(dir, "d"), []byte("x"), false); err == nil {
		t.Error("WriteReadable over a directory succeeded")
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 2 {
		t.Errorf("directory holds %d entries (%v), want f and d (no temporary files)", len(entries), err)
	}
}
