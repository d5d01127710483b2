package hgwire

import (
	"context"
	"net"
	"net/http"
	"syscall"
	"time"
)

// defaultClient carries HTTP requests when Options has no client; its
// connections are kept alive between requests and pulls. On them, hg serve
// answers late: it sends an answer's headers and body separately, and its
// Nagle algorithm holds the body until the headers are acknowledged, which
// a delayed ACK makes 40 ms or more (every request after a connection's
// first). So its connections acknowledge at once where the system can
// (TCP_QUICKACK on Linux), re-armed around every read and write since the
// kernel drops the mode on its own.
var defaultClient = &http.Client{Transport: quickAckTransport()}

func quickAckTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil || !quickAckSupported {
			return c, err
		}
		tc, ok := c.(*net.TCPConn)
		if !ok {
			return c, nil
		}
		raw, err := tc.SyscallConn()
		if err != nil {
			return c, nil
		}
		return &quickAckConn{Conn: c, raw: raw}, nil
	}
	return t
}

// quickAckConn is a TCP connection that asks the kernel to acknowledge
// what it receives at once.
type quickAckConn struct {
	net.Conn
	raw syscall.RawConn
}

func (c *quickAckConn) Read(p []byte) (int, error) {
	setQuickAck(c.raw)
	return c.Conn.Read(p)
}

func (c *quickAckConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	setQuickAck(c.raw)
	return n, err
}
