package hgwire

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Seeds in testdata/fuzz/<Target> come from the real bundles in testdata
// (made by testdata/mkbundles.sh with hg 6.3.2): HGWIRE_WRITE_SEEDS=1 go
// test -run TestWriteFuzzSeeds rewrites them.

func FuzzBundle2(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		summarize(bytes.NewReader(b))
	})
}

func FuzzChangegroup(f *testing.F) {
	f.Fuzz(func(t *testing.T, v3 bool, b []byte) {
		v := "02"
		if v3 {
			v = "03"
		}
		cg, err := NewChangegroupReader(bytes.NewReader(b), v)
		if err != nil {
			t.Fatal(err)
		}
		cg.MaxChunk = 1 << 20
		cg.Walk(ChangegroupHandler{})
	})
}

func FuzzObsmarkers(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := ParseObsmarkers(b)
		if err != nil || len(b) == 0 {
			return
		}
		n := 1
		for _, m := range ms {
			n += len(m.Raw)
		}
		if n != len(b) {
			t.Fatalf("markers cover %d of %d bytes", n, len(b))
		}
	})
}

func FuzzPhaseHeads(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		ph, err := ParsePhaseHeads(b)
		if err == nil && len(ph)*24 != len(b) {
			t.Fatalf("%d heads from %d bytes", len(ph), len(b))
		}
	})
}

func FuzzBookmarks(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { ParseBookmarks(b) })
}

func FuzzCapabilities(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCaps(s)
		if err != nil {
			return
		}
		b2, err := c.Bundle2()
		if err != nil || b2 == nil {
			return
		}
		again, err := ParseBundle2Caps(b2.Encode())
		if err != nil {
			t.Fatalf("re-encoded caps do not parse: %v", err)
		}
		if len(again) != len(b2) {
			t.Fatalf("round trip: %d caps, want %d", len(again), len(b2))
		}
	})
}

// partPayloads returns the payloads of the parts of a bundle, by type.
func partPayloads(t testing.TB, path string) map[string][]byte {
	b, err := NewBundle2Reader(openFile(t, path))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for {
		p, err := b.NextPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		out[p.Name()+p.Params["version"]] = raw
	}
}

func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("HGWIRE_WRITE_SEEDS") == "" {
		t.Skip("set HGWIRE_WRITE_SEEDS=1 to rewrite testdata/fuzz from testdata/*.hg")
	}
	write := func(target, name string, vals ...any) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.WriteString("go test fuzz v1\n")
		for _, v := range vals {
			switch v := v.(type) {
			case []byte:
				fmt.Fprintf(&buf, "[]byte(%s)\n", strconv.Quote(string(v)))
			case string:
				fmt.Fprintf(&buf, "string(%s)\n", strconv.Quote(v))
			case bool:
				fmt.Fprintf(&buf, "bool(%v)\n", v)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"small-none.hg", "small-zstd.hg", "small-gzip.hg", "small-cg3.hg"} {
		raw, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		write("FuzzBundle2", name, raw)
	}
	none := partPayloads(t, filepath.Join("testdata", "small-none.hg"))
	cg3 := partPayloads(t, filepath.Join("testdata", "small-cg3.hg"))
	write("FuzzChangegroup", "cg02", false, none["changegroup02"])
	write("FuzzChangegroup", "cg03", true, cg3["changegroup03"])
	write("FuzzObsmarkers", "amend", none["obsmarkers"])
	write("FuzzPhaseHeads", "public-draft", none["phase-heads"])
	bm := append(append([]byte{}, none["phase-heads"][4:24]...), 0, 3)
	write("FuzzBookmarks", "bm1", append(bm, "bm1"...))
	// The capabilities of hg 6.3.2's hg serve (experimental.changegroup3 on).
	write("FuzzCapabilities", "hg-6.3.2", "batch branchmap bundle2=HG20%0Abookmarks%0Achangegroup%3D01%2C02%2C03%0Acheckheads%3Drelated%0Adigests%3Dmd5%2Csha1%2Csha512%0Aerror%3Dabort%2Cunsupportedcontent%2Cpushraced%2Cpushkey%0Ahgtagsfnodes%0Alistkeys%0Aobsmarkers%3DV0%2CV1%0Aphases%3Dheads%0Apushkey%0Aremote-changegroup%3Dhttp%2Chttps%0Astream%3Dv2 changegroupsubset compression=zstd,zlib getbundle httpheader=1024 httpmediatype=0.1rx,0.1tx,0.2tx known lookup pushkey streamreqs=generaldelta,revlog-compression-zstd,revlogv1,sparserevlog unbundle=HG10GZ,HG10BZ,HG10UN unbundlehash")
}
