package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/utils/config"
	"github.com/kale-project/kale/utils/redisstore"
	"github.com/kale-project/kale/utils/redistest"
)

func kale(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestExitCodes(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Usage: kale"},
		{[]string{"help"}, 0, "Commands:"},
		{[]string{"nope"}, 2, `unknown command "nope"`},
		{[]string{"version"}, 0, "kale "},
		{[]string{"check-config"}, 0, "config OK"},
		{[]string{"check-config", "--queue-size", "0"}, 1, "invalid --queue-size"},
		{[]string{"check-config", "--no-such-flag"}, 2, "flag provided but not defined"},
		{[]string{"check-config", "stray"}, 2, `unexpected argument "stray"`},
		{[]string{"print-default-config"}, 0, "pickle-tcp = \"127.0.0.1:2024\""},
		{[]string{"seed", "--redis", "embedded"}, 2, "would start a new, empty server"},
		{[]string{"loadgen"}, 2, "--target is required"},
		{[]string{"horizon", "--pickle-tcp", "bad"}, 1, "invalid --pickle-tcp"},
	} {
		code, out, errs := kale(t, ctx, tc.args...)
		require.Equal(t, tc.code, code, "kale %v: %s%s", tc.args, out, errs)
		require.Contains(t, out+errs, tc.want, "kale %v", tc.args)
	}
}

func TestCheckConfigShowsSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "kale.toml")
	require.NoError(t, os.WriteFile(file, []byte("FULL_DURATION = 3600\nqueue-size = 5\n"), 0o600))
	t.Setenv("KALE_FLUSH_POINTS", "7")
	code, out, errs := kale(t, context.Background(), "check-config", "--config", file, "--log-level", "debug")
	require.Equal(t, 0, code, errs)
	require.Regexp(t, `full-duration\s+= "1h0m0s"\s+\(file\)`, out)
	require.Regexp(t, `queue-size\s+= "5"\s+\(file\)`, out)
	require.Regexp(t, `flush-points\s+= "7"\s+\(env\)`, out)
	require.Regexp(t, `log-level\s+= "debug"\s+\(flag\)`, out)
	require.Regexp(t, `redis\s+= "redis://127.0.0.1:6379/0"\s+\(default\)`, out)
}

// kale check-config never prints a credential, whether it came from a flag, the environment
// or a config file (the systemd unit runs it before every start, into the journal).
func TestCheckConfigHidesSecrets(t *testing.T) {
	const secret = "Sup3rSecret-0123456789-wxyz"
	dir := t.TempDir()
	file := filepath.Join(dir, "kale.toml")
	require.NoError(t, os.WriteFile(file, []byte("alert-pagerduty-key = \""+secret+"\"\n"), 0o600))
	t.Setenv("KALE_WEBAPP_TOKEN", secret)
	t.Setenv("KALE_WEBAPP_USER", "admin")
	t.Setenv("KALE_WEBAPP_PASSWORD", secret)
	t.Setenv("KALE_ALERT_SMTP_PASSWORD", secret)
	code, out, errs := kale(t, context.Background(), "check-config", "--config", file,
		"--redis", "redis://kale:"+secret+"@127.0.0.1:6379/0",
		"--alert-slack-url", "https://hooks.slack.com/services/"+secret,
		"--alert-webhook-url", "https://alerts.example.com/hook?token="+secret)
	require.Equal(t, 0, code, errs)
	require.NotContains(t, out+errs, secret)
	require.NotContains(t, out+errs, "0123456789")
	require.Regexp(t, `webapp-token\s+= "\*\*\*\*wxyz"\s+\(env\)`, out)
	require.Regexp(t, `redis\s+= "redis://kale:\*\*\*\*@127.0.0.1:6379/0"\s+\(flag\)`, out)
	require.Regexp(t, `alert-slack-url\s+= "https://hooks.slack.com/\*\*\*\*"`, out)
	// A bad Redis URL's error does not echo the password either.
	code, out, errs = kale(t, context.Background(), "check-config", "--redis", "redis://:"+secret+"@h:port/0")
	require.Equal(t, 1, code)
	require.NotContains(t, out+errs, secret)
}

// kale horizon ingests until its context ends (SIGINT/SIGTERM), then flushes and exits 0.
func TestHorizonCommand(t *testing.T) {
	srv := redistest.Start(t)
	addr := redistest.FreePort(t, "tcp")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var errb bytes.Buffer
	go func() {
		done <- run(ctx, []string{"horizon", "--redis", srv.URL(), "--plaintext-tcp", addr, "--pickle-tcp", "",
			"--pickle-udp", "", "--msgpack-udp", "", "--plaintext-udp", "", "--flush-interval", "1s"}, &bytes.Buffer{}, &errb)
	}()
	var c net.Conn
	require.Eventually(t, func() bool {
		var err error
		c, err = net.Dial("tcp", addr)
		return err == nil
	}, 5*time.Second, 20*time.Millisecond)
	now := time.Now().Unix()
	var lines strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&lines, "cmd.m%d %d %d\n", i%10, i, now)
	}
	_, err := c.Write([]byte(lines.String()))
	require.NoError(t, err)
	require.NoError(t, c.Close())
	time.Sleep(100 * time.Millisecond) // let the listener read it; the flush waits for shutdown
	cancel()
	require.Equal(t, 0, <-done, errb.String())
	store, err := redisstore.Open(srv.URL(), redisstore.Options{})
	require.NoError(t, err)
	defer store.Close()
	total := 0
	for i := range 10 {
		p, _, err := store.Series(context.Background(), fmt.Sprintf("cmd.m%d", i))
		require.NoError(t, err)
		total += len(p)
	}
	require.Equal(t, 1000, total, "every point read before the stop is flushed")
	require.Contains(t, errb.String(), "horizon stopped")
}

// README.md documents every option (the table must stay true).
func TestREADMEDocumentsEveryOption(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	require.NoError(t, err)
	for _, o := range config.Options() {
		require.True(t, strings.Contains(string(readme), "`--"+o.Name+"`"), "README.md must document --%s", o.Name)
	}
	for _, c := range commands() {
		require.True(t, strings.Contains(string(readme), "`kale "+c.name), "README.md must document kale %s", c.name)
	}
}
