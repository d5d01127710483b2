package hgwire

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/synchroniser/synchroniser/internal/hg"
)

// maxAnswer bounds a plain (non-stream) command answer.
const maxAnswer = 64 << 20

// transport sends one wire protocol command over HTTP or ssh.
type transport interface {
	// call runs a command with a plain answer.
	call(ctx context.Context, cmd string, args map[string]string) ([]byte, error)
	// stream runs a command whose answer is a stream (getbundle); the
	// stream is decompressed.
	stream(ctx context.Context, cmd string, args map[string]string) (io.ReadCloser, error)
	close() error
}

// Peer is a connection to a Mercurial server.
type Peer struct {
	t    transport
	caps Caps
	b2   Bundle2Caps
	url  string // for messages, without credentials
	// redial opens a new connection to the same source (nil: none).
	redial func(context.Context) (*Peer, error)
}

// Caps returns the server's capabilities.
func (p *Peer) Caps() Caps { return p.caps }

// Bundle2Caps returns the server's bundle2 capabilities (nil without bundle2).
func (p *Peer) Bundle2Caps() Bundle2Caps { return p.b2 }

// Close ends the connection.
func (p *Peer) Close() error { return p.t.close() }

func (p *Peer) setCaps(raw []byte) error {
	c, err := ParseCaps(string(raw))
	if err != nil {
		return err
	}
	b2, err := c.Bundle2()
	if err != nil {
		return err
	}
	p.caps, p.b2 = c, b2
	return nil
}

// Heads returns the server's visible heads.
func (p *Peer) Heads(ctx context.Context) ([]hg.Node, error) {
	b, err := p.t.call(ctx, "heads", nil)
	if err != nil {
		return nil, err
	}
	return parseNodeList(string(b), "heads")
}

func parseNodeList(s, what string) ([]hg.Node, error) {
	var out []hg.Node
	for _, f := range strings.Fields(s) {
		n, err := hg.ParseNode(f)
		if err != nil {
			return nil, fmt.Errorf("hgwire: %s answer: %w", what, err)
		}
		out = append(out, n)
	}
	return out, nil
}

func joinNodes(ns []hg.Node) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = n.String()
	}
	return strings.Join(s, " ")
}

// Known reports, for each node, whether the server has it (visible).
func (p *Peer) Known(ctx context.Context, nodes []hg.Node) ([]bool, error) {
	if len(nodes) == 0 {
		return nil, nil
	}
	b, err := p.t.call(ctx, "known", map[string]string{"nodes": joinNodes(nodes)})
	if err != nil {
		return nil, err
	}
	return parseKnown(strings.TrimRight(string(b), "\n"), len(nodes))
}

func parseKnown(s string, n int) ([]bool, error) {
	if len(s) != n {
		return nil, fmt.Errorf("hgwire: known answer has %d flags for %d nodes", len(s), n)
	}
	out := make([]bool, n)
	for i := 0; i < n; i++ {
		switch s[i] {
		case '1':
			out[i] = true
		case '0':
		default:
			return nil, fmt.Errorf("hgwire: known answer: unexpected %q", s[i])
		}
	}
	return out, nil
}

// ListKeys returns a pushkey namespace ("bookmarks", "phases").
func (p *Peer) ListKeys(ctx context.Context, namespace string) (map[string]string, error) {
	b, err := p.t.call(ctx, "listkeys", map[string]string{"namespace": namespace})
	if err != nil {
		return nil, err
	}
	return parseListKeys(b)
}

func parseListKeys(b []byte) (map[string]string, error) {
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "\t")
		if !ok {
			return nil, fmt.Errorf("hgwire: listkeys line %q has no tab", truncate(line, 60))
		}
		out[k] = v
	}
	return out, nil
}

// Lookup resolves a revision name at the server.
func (p *Peer) Lookup(ctx context.Context, key string) (hg.Node, error) {
	b, err := p.t.call(ctx, "lookup", map[string]string{"key": key})
	if err != nil {
		return hg.NullNode, err
	}
	s := strings.TrimRight(string(b), "\n")
	ok, rest, _ := strings.Cut(s, " ")
	if ok != "1" {
		return hg.NullNode, &RemoteError{Kind: "abort", Message: "lookup " + key + ": " + rest}
	}
	return hg.ParseNode(rest)
}

// BatchCall is one command of a batch.
type BatchCall struct {
	Cmd  string
	Args map[string]string
}

func escapeBatch(s string) string {
	return strings.NewReplacer(":", ":c", ",", ":o", ";", ":s", "=", ":e").Replace(s)
}

func unescapeBatch(s string) string {
	return strings.NewReplacer(":e", "=", ":s", ";", ":o", ",", ":c", ":").Replace(s)
}

// Batch runs several plain commands in one round trip (one command at a
// time when the server lacks "batch") and returns their raw answers.
func (p *Peer) Batch(ctx context.Context, calls []BatchCall) ([][]byte, error) {
	if !p.caps.Has("batch") {
		out := make([][]byte, len(calls))
		for i, c := range calls {
			b, err := p.t.call(ctx, c.Cmd, c.Args)
			if err != nil {
				return nil, err
			}
			out[i] = b
		}
		return out, nil
	}
	cmds := make([]string, len(calls))
	for i, c := range calls {
		keys := make([]string, 0, len(c.Args))
		for k := range c.Args {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		args := make([]string, len(keys))
		for j, k := range keys {
			args[j] = escapeBatch(k) + "=" + escapeBatch(c.Args[k])
		}
		cmds[i] = c.Cmd + " " + strings.Join(args, ",")
	}
	b, err := p.t.call(ctx, "batch", map[string]string{"cmds": strings.Join(cmds, ";")})
	if err != nil {
		return nil, err
	}
	parts := strings.Split(string(b), ";")
	if len(parts) != len(calls) {
		return nil, fmt.Errorf("hgwire: batch answer has %d results for %d commands", len(parts), len(calls))
	}
	out := make([][]byte, len(parts))
	for i, s := range parts {
		out[i] = []byte(unescapeBatch(s))
	}
	return out, nil
}

// GetBundleArgs are the arguments of getbundle.
type GetBundleArgs struct {
	Heads, Common []hg.Node
	Changegroup   bool     // cg
	Bookmarks     bool     // a bookmarks part
	Phases        bool     // a phase-heads part
	Obsmarkers    bool     // an obsmarkers part
	ListKeys      []string // listkeys parts for these namespaces
}

// GetBundle asks for a bundle2 stream. Only capabilities this package
// parses are advertised to the server.
func (p *Peer) GetBundle(ctx context.Context, a GetBundleArgs) (io.ReadCloser, error) {
	if !p.caps.Has("getbundle") || p.b2 == nil {
		return nil, &UnsupportedError{What: "server without getbundle and bundle2"}
	}
	args := map[string]string{
		"bundlecaps": "HG20,bundle2=" + ClientBundle2Caps().Encode(),
		"cg":         boolArg(a.Changegroup),
	}
	if len(a.Heads) > 0 {
		args["heads"] = joinNodes(a.Heads)
	}
	if len(a.Common) > 0 {
		args["common"] = joinNodes(a.Common)
	} else {
		args["common"] = hg.NullNode.String()
	}
	if a.Bookmarks {
		args["bookmarks"] = "1"
	}
	if a.Phases {
		args["phases"] = "1"
	}
	if a.Obsmarkers {
		args["obsmarkers"] = "1"
	}
	if len(a.ListKeys) > 0 {
		args["listkeys"] = strings.Join(a.ListKeys, ",")
	}
	return p.t.stream(ctx, "getbundle", args)
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
