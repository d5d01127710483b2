package hgwire

import (
	"bytes"
	"encoding/binary"
	"sort"
	"testing"
)

// part is a bundle2 part for tests that build bundles by hand.
type part struct {
	typ       string
	mandatory map[string]string
	advisory  map[string]string
	payload   []byte
}

func sortedKeys(m map[string]string) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}

func writePartHeader(buf *bytes.Buffer, p part) {
	var h bytes.Buffer
	h.WriteByte(byte(len(p.typ)))
	h.WriteString(p.typ)
	binary.Write(&h, binary.BigEndian, uint32(0))
	h.WriteByte(byte(len(p.mandatory)))
	h.WriteByte(byte(len(p.advisory)))
	mk, ak := sortedKeys(p.mandatory), sortedKeys(p.advisory)
	for _, k := range mk {
		h.WriteByte(byte(len(k)))
		h.WriteByte(byte(len(p.mandatory[k])))
	}
	for _, k := range ak {
		h.WriteByte(byte(len(k)))
		h.WriteByte(byte(len(p.advisory[k])))
	}
	for _, k := range mk {
		h.WriteString(k + p.mandatory[k])
	}
	for _, k := range ak {
		h.WriteString(k + p.advisory[k])
	}
	binary.Write(buf, binary.BigEndian, int32(h.Len()))
	buf.Write(h.Bytes())
}

// buildBundle encodes parts as an uncompressed bundle2.
func buildBundle(t testing.TB, parts ...part) []byte {
	var buf bytes.Buffer
	buf.WriteString("HG20\x00\x00\x00\x00")
	for _, p := range parts {
		writePartHeader(&buf, p)
		if len(p.payload) > 0 {
			binary.Write(&buf, binary.BigEndian, int32(len(p.payload)))
			buf.Write(p.payload)
		}
		buf.Write([]byte{0, 0, 0, 0})
	}
	buf.Write([]byte{0, 0, 0, 0})
	return buf.Bytes()
}
