// Package redistest starts real redis-server processes on free loopback ports for Kale's
// integration tests. Outside CI a missing redis-server skips the test with a reason; in CI
// (CI=true) it fails the test, because the CI script installs Redis.
package redistest

import (
	"context"

	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a redis-server child process.
type Server struct {
	t    testing.TB
	Addr string // 127.0.0.1:port
	dir  string
	cmd  *exec.Cmd
	args []string // extra redis-server arguments
}

// URL is the redis:// URL of the server's database 0.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Start launches redis-server on a free port (persistence off) and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := lookPath(t, "redis-server")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("cannot find a free port: %v", err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	s := &Server{t: t, Addr: addr, dir: t.TempDir()}
	s.start(bin)
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start(bin string) {
	s.t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	args := append([]string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--daemonize", "no", "--loglevel", "warning", "--logfile", ""}, s.args...)
	s.cmd = exec.Command(bin, args...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("cannot start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not answer within 10s: %v", s.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (an outage); it is safe to call twice.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// lookPath finds a Redis binary: skips the test outside CI when it is missing, fails in CI.
func lookPath(t testing.TB, name string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed, and CI=true: .ci/run must install it (apt-get install redis-server)", name)
		}
		t.Skipf("%s is not installed (apt-get install redis-server); skipping the integration test", name)
	}
	return bin
}

// Restart starts a new, empty server on the same port after Stop.
func (s *Server) Restart() {
	s.t.Helper()
	bin, _ := exec.LookPath("redis-server")
	s.start(bin)
}

// Client returns a go-redis client for the server, closed when the test ends.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// FreePort returns a loopback address with a port that was free a moment ago.
func FreePort(t testing.TB, network string) string {
	t.Helper()
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("cannot find a free UDP port: %v", err)
		}
		defer c.Close()
		return c.LocalAddr().String()
	default:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("cannot find a free TCP port: %v", err)
		}
		defer l.Close()
		return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	}
}
