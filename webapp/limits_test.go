package webapp

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/analyzer/recordstore"
	"github.com/kale-project/kale/utils/config"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

// fakeSearcher answers every search with its function.
type fakeSearcher func(ctx context.Context, q Query) (Result, error)

func (f fakeSearcher) Search(ctx context.Context, q Query) (Result, error) { return f(ctx, q) }

// newBare is a webapp on an empty real Redis with search (may be nil) and the configuration
// changed by configure (may be nil); the URL is an httptest server's.
func newBare(t *testing.T, search Searcher, configure func(*config.Config)) (*Server, string) {
	t.Helper()
	srv := redistest.Start(t)
	return newBareOn(t, srv.URL(), search, configure)
}

func newBareOn(t *testing.T, redisURL string, search Searcher, configure func(*config.Config)) (*Server, string) {
	t.Helper()
	cfg := config.DefaultConfig()
	cfg.Redis, cfg.Webapp, cfg.OculusIndex = redisURL, "127.0.0.1:0", ""
	cfg.SearchRate, cfg.SearchBurst = 1000, 1000
	if configure != nil {
		configure(cfg)
	}
	store, err := redisstore.Open(cfg.Redis, redisstore.Options{FullNamespace: cfg.FullNamespace, MiniNamespace: cfg.MiniNamespace})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	s, err := New(Options{Config: configOf(cfg), Store: store, Records: recordstore.New(store.Client()), Search: search, Log: slog.New(slog.DiscardHandler), Version: "test"})
	require.NoError(t, err)
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, hs.URL
}

// serveOn runs s.Serve on ln until the test ends; it returns the stop function and Serve's result.
func serveOn(t *testing.T, s *Server, ln net.Listener) (stop func(), done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc, finished := make(chan error, 1), make(chan struct{})
	go func() { errc <- s.Serve(ctx, ln); close(finished) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(15 * time.Second):
			t.Error("Serve did not return")
		}
	})
	return cancel, errc
}

func TestHTTPServerTimeouts(t *testing.T) {
	s, _ := newBare(t, nil, func(c *config.Config) { c.SearchTimeout = 7 * time.Second })
	srv := s.httpServer()
	for _, tc := range []struct {
		name      string
		got, want time.Duration
	}{
		{"read header", srv.ReadHeaderTimeout, 10 * time.Second},
		{"read", srv.ReadTimeout, 30 * time.Second},
		{"idle", srv.IdleTimeout, 2 * time.Minute},
		{"write: --search-timeout + grace + margin", srv.WriteTimeout, 7*time.Second + searchGrace + 30*time.Second},
	} {
		require.Equal(t, tc.want, tc.got, tc.name)
	}
	require.Equal(t, 64<<10, srv.MaxHeaderBytes)
}

// get sends GET path on a raw connection and reads the answer (deadline d).
func rawGet(conn net.Conn, path string, d time.Duration) (*http.Response, error) {
	if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: kale\r\n\r\n"); err != nil {
		return nil, err
	}
	_ = conn.SetReadDeadline(time.Now().Add(d))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	return res, err
}

func TestConnectionCap(t *testing.T) {
	s, _ := newBare(t, nil, func(c *config.Config) { c.WebappMaxConns = 2 })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	serveOn(t, s, ln)
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	// Two keep-alive connections take both slots.
	c1, c2 := dial(), dial()
	for _, c := range []net.Conn{c1, c2} {
		res, err := rawGet(c, "/healthz", 5*time.Second)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode)
	}
	// A third waits in the backlog: no answer while both are held.
	c3 := dial()
	_, err = rawGet(c3, "/healthz", 500*time.Millisecond)
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "the third connection must not be served yet: %v", err)
	// Closing one frees a slot and the waiting request is served.
	require.NoError(t, c1.Close())
	_ = c3.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c3), nil)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
}

// emfileListener fails its first Accepts as a process out of file descriptors does.
type emfileListener struct {
	net.Listener
	fails atomic.Int32
}

func (l *emfileListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

func TestAcceptErrorsAreNotFatal(t *testing.T) {
	s, _ := newBare(t, nil, func(c *config.Config) { c.WebappMaxConns = 4 })
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := &emfileListener{Listener: inner}
	ln.fails.Store(6)
	_, done := serveOn(t, s, ln)
	client := &http.Client{Timeout: 5 * time.Second}
	res, err := client.Get("http://" + inner.Addr().String() + "/healthz")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.LessOrEqual(t, ln.fails.Load(), int32(0), "every failing accept was retried")
	select {
	case err := <-done:
		t.Fatalf("Serve ended on EMFILE: %v", err)
	default:
	}
}

func TestShutdownAnswersSearchesWith503(t *testing.T) {
	entered := make(chan struct{}, 1)
	blocking := fakeSearcher(func(ctx context.Context, _ Query) (Result, error) {
		entered <- struct{}{}
		<-ctx.Done() // a long search that honours its context
		return Result{}, ctx.Err()
	})
	s, _ := newBare(t, blocking, func(c *config.Config) {
		c.ShutdownTimeout = 300 * time.Millisecond
		c.SearchTimeout = time.Minute
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	stop, done := serveOn(t, s, ln)

	type answer struct {
		code int
		body string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		res, err := http.Post("http://"+ln.Addr().String()+searchPath, "application/json", strings.NewReader(`{"values":[1,2,3]}`))
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		got <- answer{code: res.StatusCode, body: string(b)}
	}()
	<-entered
	t0 := time.Now()
	stop()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after --shutdown-timeout")
	}
	require.Less(t, time.Since(t0), 2*time.Second, "the drain is bounded by --shutdown-timeout")
	a := <-got
	require.NoError(t, a.err)
	require.Equal(t, http.StatusServiceUnavailable, a.code, a.body)
	require.Contains(t, decode[apiError](t, a.body).Error, "shutting down")
}
