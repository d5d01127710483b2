package hgwire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"

	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/limitio"
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
	// argBudget is how many bytes of encoded arguments one command can
	// carry; 0 for no bound.
	argBudget() int
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

// nodeArgLen is the length of one node in an encoded argument list: 40 hex
// digits and a separator.
const nodeArgLen = 41

// encodeArgs form-encodes a command's arguments, as they go in X-HgArg
// headers, a query or an httppostargs body.
func encodeArgs(args map[string]string) string {
	form := url.Values{}
	for k, v := range args {
		form.Set(k, v)
	}
	return form.Encode()
}

// ErrArgsTooLong is wrapped by the error for a command whose arguments
// cannot be made to fit in what the server takes in one request.
var ErrArgsTooLong = errors.New("arguments exceed what the server takes in one request")

// room is how many bytes of encoded arguments args leaves of the budget
// (budget 0: no bound, reported as the largest int).
func room(budget int, args map[string]string) int {
	if budget <= 0 {
		return int(^uint(0) >> 1)
	}
	return budget - len(encodeArgs(args))
}

// nodesThatFit is how many nodes a space-separated list added to an
// argument of args can hold within budget (at least 1, so that a caller
// makes progress; the server then says what it refuses).
func nodesThatFit(budget int, args map[string]string) int {
	r := room(budget, args)
	if r >= int(^uint(0)>>1)-nodeArgLen {
		return r
	}
	return max((r+1)/nodeArgLen, 1)
}

func chunkNodes(ns []hg.Node, size int) [][]hg.Node {
	var out [][]hg.Node
	for len(ns) > 0 {
		k := min(size, len(ns))
		out = append(out, ns[:k])
		ns = ns[k:]
	}
	return out
}

func joinNodes(ns []hg.Node) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = n.String()
	}
	return strings.Join(s, " ")
}

// Known reports, for each node, whether the server has it (visible). The
// nodes are asked in as many requests as the server's argument budget
// needs.
func (p *Peer) Known(ctx context.Context, nodes []hg.Node) ([]bool, error) {
	if len(nodes) == 0 {
		return nil, nil
	}
	size := nodesThatFit(p.t.argBudget(), map[string]string{"nodes": ""})
	out := make([]bool, 0, len(nodes))
	for _, part := range chunkNodes(nodes, size) {
		b, err := p.t.call(ctx, "known", map[string]string{"nodes": joinNodes(part)})
		if err != nil {
			return nil, err
		}
		ans, err := parseKnown(trimNL(b), len(part))
		if err != nil {
			return nil, err
		}
		out = append(out, ans...)
	}
	return out, nil
}

// knownCalls splits a known query of nodes into batch calls that each
// fit in one batch request beside the calls of first (the rest alone).
func (p *Peer) knownCalls(first []BatchCall, nodes []hg.Node) []BatchCall {
	probe := append(append([]BatchCall(nil), first...), BatchCall{Cmd: "known", Args: map[string]string{"nodes": ""}})
	size := nodesThatFit(p.t.argBudget(), batchArgs(probe))
	var out []BatchCall
	for len(nodes) > 0 {
		k := min(size, len(nodes))
		out = append(out, BatchCall{Cmd: "known", Args: map[string]string{"nodes": joinNodes(nodes[:k])}})
		nodes = nodes[k:]
		// Later calls go in batches of their own, which leaves the
		// room first took.
		size = nodesThatFit(p.t.argBudget(), batchArgs([]BatchCall{{Cmd: "known", Args: map[string]string{"nodes": ""}}}))
	}
	return out
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
			return nil, fmt.Errorf("hgwire: listkeys line %q has no tab", limitio.Clip(line, 60))
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

// batchArgs are the arguments of a batch command running calls.
func batchArgs(calls []BatchCall) map[string]string {
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
	return map[string]string{"cmds": strings.Join(cmds, ";")}
}

// Batch runs several plain commands in as few round trips as the
// server's argument budget allows (one command at a time when the server
// lacks "batch") and returns their raw answers. A command that does not
// fit in a request alone is an error wrapping ErrArgsTooLong.
func (p *Peer) Batch(ctx context.Context, calls []BatchCall) ([][]byte, error) {
	budget := p.t.argBudget()
	if !p.caps.Has("batch") {
		out := make([][]byte, len(calls))
		for i, c := range calls {
			if room(budget, c.Args) < 0 {
				return nil, fmt.Errorf("hgwire: %s: %w (%d bytes)", c.Cmd, ErrArgsTooLong, budget)
			}
			b, err := p.t.call(ctx, c.Cmd, c.Args)
			if err != nil {
				return nil, err
			}
			out[i] = b
		}
		return out, nil
	}
	out := make([][]byte, 0, len(calls))
	for start := 0; start < len(calls); {
		end := start + 1
		if room(budget, batchArgs(calls[start:end])) < 0 {
			return nil, fmt.Errorf("hgwire: batch of %s: %w (%d bytes)", calls[start].Cmd, ErrArgsTooLong, budget)
		}
		for end < len(calls) && room(budget, batchArgs(calls[start:end+1])) >= 0 {
			end++
		}
		group := calls[start:end]
		b, err := p.t.call(ctx, "batch", batchArgs(group))
		if err != nil {
			return nil, err
		}
		parts := strings.Split(string(b), ";")
		if len(parts) != len(group) {
			return nil, fmt.Errorf("hgwire: batch answer has %d results for %d commands", len(parts), len(group))
		}
		for _, s := range parts {
			out = append(out, []byte(unescapeBatch(s)))
		}
		start = end
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
// parses are advertised to the server. Arguments beyond the server's
// budget are an error wrapping ErrArgsTooLong (see fitGetBundle).
func (p *Peer) GetBundle(ctx context.Context, a GetBundleArgs) (io.ReadCloser, error) {
	if !p.caps.Has("getbundle") || p.b2 == nil {
		return nil, &UnsupportedError{What: "server without getbundle and bundle2"}
	}
	args := a.encode()
	if b := p.t.argBudget(); room(b, args) < 0 {
		return nil, fmt.Errorf("hgwire: getbundle of %d heads and %d common nodes: %w (%d bytes)", len(a.Heads), len(a.Common), ErrArgsTooLong, b)
	}
	return p.t.stream(ctx, "getbundle", args)
}

// fitGetBundle makes a's arguments fit in the server's budget, giving up
// what costs least: first the heads (without them the server sends up
// to every head it has), then the oldest common nodes (the server then
// sends changesets the cache has, which the writer skips).
func (p *Peer) fitGetBundle(a GetBundleArgs) GetBundleArgs {
	budget := p.t.argBudget()
	if room(budget, a.encode()) >= 0 {
		return a
	}
	a.Heads = nil
	if room(budget, a.encode()) >= 0 || len(a.Common) == 0 {
		return a
	}
	probe := a
	probe.Common = nil
	args := probe.encode()
	args["common"] = ""
	if k := nodesThatFit(budget, args); k < len(a.Common) {
		a.Common = a.Common[len(a.Common)-k:]
	}
	return a
}

// encode returns the getbundle arguments of a.
func (a GetBundleArgs) encode() map[string]string {
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
	return args
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
