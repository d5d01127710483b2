package git

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// sshServer is a minimal SSH server on 127.0.0.1 that runs the real
// git-upload-pack / git-receive-pack for exec requests, accepting one client
// key.
type sshServer struct {
	addr    string
	hostKey ssh.PublicKey
	wg      sync.WaitGroup
}

func newKeyPair(t *testing.T) (ed25519.PrivateKey, ssh.PublicKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

func startSSHServer(t *testing.T, clientKey ssh.PublicKey) *sshServer {
	t.Helper()
	hostPriv, hostPub := newKeyPair(t)
	signer, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	config := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if bytes.Equal(key.Marshal(), clientKey.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	config.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sshServer{addr: ln.Addr().String(), hostKey: hostPub}
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c, config)
			}()
		}
	}()
	return s
}

func (s *sshServer) serve(c net.Conn, config *ssh.ServerConfig) {
	defer c.Close()
	conn, chans, reqs, err := ssh.NewServerConn(c, config)
	if err != nil {
		return
	}
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "session only")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer ch.Close()
			for req := range chReqs {
				if req.Type != "exec" {
					req.Reply(false, nil)
					continue
				}
				var payload struct{ Command string }
				if ssh.Unmarshal(req.Payload, &payload) != nil {
					req.Reply(false, nil)
					return
				}
				req.Reply(true, nil)
				status := runGitService(payload.Command, ch)
				var b [4]byte
				binary.BigEndian.PutUint32(b[:], status)
				ch.SendRequest("exit-status", false, b[:])
				return
			}
		}()
	}
}

// runGitService runs "git-upload-pack '/path'" or "git-receive-pack '/path'"
// (as git's ssh transport sends it) without a shell.
func runGitService(command string, ch ssh.Channel) uint32 {
	service, arg, ok := strings.Cut(command, " ")
	if !ok || (service != "git-upload-pack" && service != "git-receive-pack") ||
		len(arg) < 2 || arg[0] != '\'' || arg[len(arg)-1] != '\'' {
		fmt.Fprintf(ch.Stderr(), "unsupported command %q\n", command)
		return 127
	}
	cmd := exec.Command("git", strings.TrimPrefix(service, "git-"), "--", arg[1:len(arg)-1])
	cmd.Env = testEnv()
	cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
	// Copy stdin ourselves: Wait would otherwise wait for the client to
	// close its side, which it does only after the service exits.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 1
	}
	if err := cmd.Start(); err != nil {
		return 127
	}
	go func() { io.Copy(stdin, ch); stdin.Close() }()
	if err := cmd.Wait(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return uint32(exit.ExitCode())
		}
		return 1
	}
	return 0
}

// writeSSHFiles writes a client private key and a known_hosts file naming
// hostKey for addr, returning their paths.
func writeSSHFiles(t *testing.T, dir string, client ed25519.PrivateKey, addr string, hostKey ssh.PublicKey) (key, knownHosts string) {
	t.Helper()
	block, err := ssh.MarshalPrivateKey(client, "")
	if err != nil {
		t.Fatal(err)
	}
	key = filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(key, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(addr)
	line := fmt.Sprintf("[%s]:%s %s", host, port, ssh.MarshalAuthorizedKey(hostKey))
	knownHosts = filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(knownHosts, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	return key, knownHosts
}

func TestRunnerSSH(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Fatal("the ssh client is required: ", err)
	}
	ctx := testCtx(t)
	clientPriv, clientPub := newKeyPair(t)
	srv := startSSHServer(t, clientPub)
	dir := t.TempDir()
	key, knownHosts := writeSSHFiles(t, dir, clientPriv, srv.addr, srv.hostKey)

	served := newBare(t)
	src := newBare(t)
	tip := commitChain(t, src, ZeroHash, 2, "ssh")[1]
	if err := (&Runner{}).UpdateRefs(ctx, src, map[string]Hash{"refs/heads/main": tip}); err != nil {
		t.Fatal(err)
	}
	r := (&Runner{}).WithCredentials(Credentials{SSHKey: key, KnownHosts: knownHosts})
	remote := "ssh://git@" + srv.addr + served
	if err := r.Push(ctx, src, remote, []string{"refs/heads/main:refs/heads/main"}, PushOptions{Atomic: true}); err != nil {
		t.Fatalf("push over ssh: %v", err)
	}
	refs, err := r.LsRemote(ctx, remote)
	if err != nil || refs["refs/heads/main"] != tip {
		t.Fatalf("ls-remote over ssh = %v, %v", refs, err)
	}
	fetched := newBare(t)
	if err := r.Fetch(ctx, fetched, remote, []string{"refs/heads/main:refs/heads/main"}); err != nil {
		t.Fatalf("fetch over ssh: %v", err)
	}

	// Failures.
	otherPriv, _ := newKeyPair(t)
	_, strangerHost := newKeyPair(t)
	wrongKeyDir, wrongHostDir := t.TempDir(), t.TempDir()
	wrongKey, _ := writeSSHFiles(t, wrongKeyDir, otherPriv, srv.addr, srv.hostKey)
	_, wrongHosts := writeSSHFiles(t, wrongHostDir, clientPriv, srv.addr, strangerHost)
	closed := hgtest.ClosedAddr(t)
	for _, tc := range []struct {
		name   string
		r      *Runner
		remote string
		kind   error
	}{
		{"unknown host key", r.WithCredentials(Credentials{SSHKey: key, KnownHosts: wrongHosts}), remote, ErrAuth},
		{"key not authorised", r.WithCredentials(Credentials{SSHKey: wrongKey, KnownHosts: knownHosts}), remote, ErrAuth},
		{"missing repository", r, "ssh://git@" + srv.addr + served + "-missing", ErrNotFound},
		{"closed port", r, "ssh://git@" + closed + "/x.git", ErrNetwork},
	} {
		_, err := tc.r.LsRemote(ctx, tc.remote)
		t.Logf("%s: %v", tc.name, err)
		if !errors.Is(err, tc.kind) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.kind)
		}
		err = tc.r.Push(ctx, src, tc.remote, []string{"refs/heads/main:refs/heads/main"}, PushOptions{})
		if !errors.Is(err, tc.kind) {
			t.Errorf("%s: push: %v, want %v", tc.name, err, tc.kind)
		}
	}
}
