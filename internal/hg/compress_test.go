package hg

import (
	"bytes"
	"strings"
	"testing"

	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

func zlibChunk(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// zstdChunk compresses data into one frame, or (withSize false) writes a
// frame without a content size, as some zstd writers do: raw blocks after
// a header with only a window descriptor.
func zstdChunk(t *testing.T, data []byte, withSize bool) []byte {
	t.Helper()
	if withSize {
		enc, err := zstd.NewWriter(nil)
		if err != nil {
			t.Fatal(err)
		}
		return enc.EncodeAll(data, nil)
	}
	frame := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38} // no FCS, window 128 KiB
	for len(data) > 0 {
		n := min(len(data), 128<<10)
		last := 0
		if n == len(data) {
			last = 1
		}
		h := n<<3 | last // raw block
		frame = append(frame, byte(h), byte(h>>8), byte(h>>16))
		frame = append(frame, data[:n]...)
		data = data[n:]
	}
	var h zstd.Header
	if err := h.Decode(frame); err != nil || h.HasFCS {
		t.Fatalf("frame: HasFCS=%v err=%v, want a frame without content size", h.HasFCS, err)
	}
	return frame
}

func TestDecompress(t *testing.T) {
	t.Parallel()
	text := []byte(strings.Repeat("some revlog text\n", 1000))
	tests := []struct {
		name    string
		chunk   []byte
		rawsize int32
		exact   bool
		want    []byte
		wantErr bool
	}{
		{"empty", nil, 0, true, nil, false},
		{"u", append([]byte("u"), text...), int32(len(text)), true, text, false},
		{"nul", append([]byte{0}, text...), int32(len(text) + 1), true, append([]byte{0}, text...), false},
		{"zlib", zlibChunk(t, text), int32(len(text)), true, text, false},
		{"zlib delta", zlibChunk(t, text), int32(len(text)), false, text, false},
		{"zstd", zstdChunk(t, text, true), int32(len(text)), true, text, false},
		{"zstd no content size", zstdChunk(t, text, false), int32(len(text)), true, text, false},
		{"zstd no content size delta", zstdChunk(t, text, false), 10, false, text, false},
		{"zlib over rawsize", zlibChunk(t, text), int32(len(text) - 1), true, nil, true},
		{"zstd over rawsize", zstdChunk(t, text, true), int32(len(text) - 1), true, nil, true},
		{"zstd no size over rawsize", zstdChunk(t, text, false), int32(len(text) - 1), true, nil, true},
		{"u over rawsize", append([]byte("u"), text...), 5, true, nil, true},
		{"unknown", []byte("zabc"), 3, true, nil, true},
		{"corrupt zlib", []byte("x\x9c\xff\xff"), 10, true, nil, true},
		{"corrupt zstd", []byte("(\xb5/\xfd\x00\x00"), 10, true, nil, true},
		{"zstd claims too much", []byte("(\xb5/\xfd\xa4\x00\x00\x00\x40\x00"), 1 << 30, true, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rl := &Revlog{name: "test", inline: true}
			got, err := rl.decompress(tc.chunk, nil, tc.rawsize, tc.exact)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if !tc.wantErr && !bytes.Equal(got, tc.want) {
				t.Fatalf("got %d bytes, want %d", len(got), len(tc.want))
			}
		})
	}
}

func TestPatch(t *testing.T) {
	t.Parallel()
	hunk := func(start, end int, data string) []byte {
		b := []byte{byte(start >> 24), byte(start >> 16), byte(start >> 8), byte(start),
			byte(end >> 24), byte(end >> 16), byte(end >> 8), byte(end),
			byte(len(data) >> 24), byte(len(data) >> 16), byte(len(data) >> 8), byte(len(data))}
		return append(b, data...)
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	base := []byte("line1\nline2\nline3\n")
	tests := []struct {
		name    string
		delta   []byte
		want    string
		wantErr bool
	}{
		{"empty delta", nil, "line1\nline2\nline3\n", false},
		{"replace middle", hunk(6, 12, "LINE2\n"), "line1\nLINE2\nline3\n", false},
		{"insert at start", hunk(0, 0, "line0\n"), "line0\nline1\nline2\nline3\n", false},
		{"append", hunk(18, 18, "line4\n"), "line1\nline2\nline3\nline4\n", false},
		{"delete all", hunk(0, 18, ""), "", false},
		{"two hunks", cat(hunk(0, 6, ""), hunk(12, 18, "x\n")), "line2\nx\n", false},
		{"full replacement", hunk(0, 18, "new\n"), "new\n", false},
		{"out of order", cat(hunk(12, 18, ""), hunk(0, 6, "")), "", true},
		{"overlapping", cat(hunk(0, 8, ""), hunk(6, 12, "")), "", true},
		{"end before start", hunk(6, 0, ""), "", true},
		{"beyond base", hunk(0, 19, ""), "", true},
		{"truncated header", hunk(0, 0, "")[:11], "", true},
		{"truncated data", hunk(0, 0, "abc")[:14], "", true},
		{"huge length", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Patch(base, tc.delta)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if !tc.wantErr && string(got) != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseNode(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "0123", strings.Repeat("g", 40), strings.Repeat("0", 39) + "x", strings.Repeat("0", 41)} {
		if _, err := ParseNode(s); err == nil {
			t.Errorf("ParseNode(%q) succeeded", s)
		}
	}
	n, err := ParseNode("0123456789ABCDEFabcdef0123456789abcdef01")
	if err != nil || n.String() != "0123456789abcdefabcdef0123456789abcdef01" {
		t.Errorf("ParseNode = %s, %v", n, err)
	}
	if !NullNode.IsNull() || n.IsNull() {
		t.Error("IsNull")
	}
}
