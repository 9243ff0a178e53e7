package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/algorithms"
)

func resolve(t *testing.T, args []string, env map[string]string) (*Resolved, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	b := Bind(fs, nil)
	require.NoError(t, fs.Parse(args))
	return b.Resolve(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
}

func TestDefaultsValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	r, err := resolve(t, nil, nil)
	require.NoError(t, err)
	require.Equal(t, DefaultConfig(), r.Config)
	require.False(t, r.Explicit("pickle-tcp"))
}

func TestPrecedence(t *testing.T) {
	file := filepath.Join("testdata", "kale.yaml")
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
		src  Source
	}{
		{"default", nil, nil, "redis://127.0.0.1:6379/0", FromDefault},
		{"file", []string{"--config", file}, nil, "redis://127.0.0.1:6390/2", FromFile},
		{"env over file", []string{"--config", file}, map[string]string{"KALE_REDIS": "redis://h:1/0"}, "redis://h:1/0", FromEnv},
		{"flag over env", []string{"--config", file, "--redis", "redis://f:2/0"}, map[string]string{"KALE_REDIS": "redis://h:1/0"}, "redis://f:2/0", FromFlag},
		{"KALE_CONFIG", nil, map[string]string{"KALE_CONFIG": file}, "redis://127.0.0.1:6390/2", FromFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := resolve(t, tc.args, tc.env)
			require.NoError(t, err)
			require.Equal(t, tc.want, r.Redis)
			require.Equal(t, tc.src, r.Sources["redis"])
		})
	}
}

func TestYAMLFile(t *testing.T) {
	r, err := resolve(t, []string{"--config", "testdata/kale.yaml"}, nil)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:4024", r.PickleTCP, "the Kale name wins over PICKLE_PORT")
	require.Equal(t, 500*time.Millisecond, r.FlushInterval)
	require.Equal(t, []string{"a", "b"}, r.SkipList)
}

func TestSkylineSettings(t *testing.T) {
	r, err := resolve(t, []string{"--config", "testdata/skyline.toml"}, nil)
	require.NoError(t, err)
	require.Equal(t, 43200*time.Second, r.FullDuration)
	require.Equal(t, 1800*time.Second, r.MiniDuration)
	require.Equal(t, 600*time.Second, r.MaxResolution)
	require.Equal(t, 300*time.Second, r.RoombaGraceTime)
	require.Equal(t, []string{"_90", ".lower"}, r.SkipList)
	require.Equal(t, "0.0.0.0:3024", r.PickleTCP)
	require.Equal(t, "0.0.0.0:3025", r.MsgpackUDP)
	require.Equal(t, "0.0.0.0:2003", r.PlaintextTCP, "HORIZON_IP applies to every listener")
	require.True(t, r.Mini, "OCULUS_HOST enables the mini namespace")
	require.Len(t, r.Warnings, 1)
	require.Contains(t, r.Warnings[0], "LOG_PATH")
	require.True(t, r.Explicit("pickle-tcp"))
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		msg  string
	}{
		{"unknown file setting", []string{"--config", "testdata/unknown.toml"}, nil, `unknown setting "NOT_A_SETTING"`},
		{"bad file value", []string{"--config", "testdata/badvalue.toml"}, nil, `invalid "queue-size"`},
		{"missing file", []string{"--config", "testdata/nope.toml"}, nil, "cannot read config file"},
		{"bad extension", []string{"--config", "config.go"}, nil, "is not .toml, .yaml or .yml"},
		{"bad env", nil, map[string]string{"KALE_QUEUE_SIZE": "x"}, "invalid KALE_QUEUE_SIZE"},
		{"bad flag", []string{"--flush-interval", "soon"}, nil, "invalid --flush-interval"},
		{"flush too slow", []string{"--flush-interval", "2s"}, nil, "invalid --flush-interval"},
		{"bad address", []string{"--pickle-tcp", "nope"}, nil, "invalid --pickle-tcp"},
		{"bad redis", []string{"--redis", "http://x"}, nil, "invalid --redis"},
		{"negative queue", []string{"--queue-size", "-1"}, nil, "invalid --queue-size"},
		{"bad log level", []string{"--log-level", "loud"}, nil, "invalid --log-level"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := resolve(t, tc.args, tc.env)
			require.ErrorContains(t, err, tc.msg)
		})
	}
}

func TestEmptyAddressDisables(t *testing.T) {
	r, err := resolve(t, []string{"--pickle-udp", ""}, nil)
	require.NoError(t, err)
	require.Equal(t, "", r.PickleUDP)
}

func TestDurationsAcceptSeconds(t *testing.T) {
	r, err := resolve(t, []string{"--full-duration", "86400", "--max-resolution", "15m"}, nil)
	require.NoError(t, err)
	require.Equal(t, 24*time.Hour, r.FullDuration)
	require.Equal(t, 15*time.Minute, r.MaxResolution)
}

// The printed default config reads back as the defaults.
func TestPrintDefaultRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteTOML(&buf, DefaultConfig()))
	path := filepath.Join(t.TempDir(), "default.toml")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))
	r, err := resolve(t, []string{"--config", path}, nil)
	require.NoError(t, err)
	require.Equal(t, DefaultConfig(), r.Config)
	for _, o := range Options() {
		require.Contains(t, buf.String(), "\n"+o.Name+" = ", "option %s is printed", o.Name)
	}
}

func TestSkylineAnalyzerSettings(t *testing.T) {
	r, err := resolve(t, []string{"--config", "testdata/skyline_alerts.toml"}, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"skyline:smtp:1800", "web:api:webhook:60"}, r.Alerts)
	require.Equal(t, "graphite.local:2013", r.GraphiteAddr)
	require.Equal(t, []string{"grubbs", "ks_test"}, r.Algorithms)
	require.Equal(t, 2, r.Consensus)
	require.Equal(t, 600*time.Second, r.StalePeriod)
	require.Equal(t, "skyline@example.com", r.AlertSMTPFrom)
	require.Equal(t, []string{"skyline=a@example.com", "skyline=b@example.com"}, r.AlertSMTPTo)
	require.Equal(t, "routing-key", r.AlertPagerDutyKey)
	require.Len(t, r.Warnings, 1)
	require.Contains(t, r.Warnings[0], "HipChat is defunct")
}

func TestCompatSwitches(t *testing.T) {
	// The names are bound here; algorithms.Settings.ApplyCompat maps them onto the switches.
	r, err := resolve(t, []string{"--skyline-compat", "mad-none-votes"}, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"mad-none-votes"}, r.SkylineCompat)
	r, err = resolve(t, []string{"--skyline-compat", "all"}, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"all"}, r.SkylineCompat)
	_, err = resolve(t, []string{"--skyline-compat", "everything"}, nil)
	require.ErrorContains(t, err, `invalid --skyline-compat: "everything" is not one of mad-none-votes, tail-avg-int-div, boring-equality, histogram-edges, one-sided-grubbs, algorithm-error-vetoes or all`)
	field, _ := reflect.TypeFor[Config]().FieldByName("SkylineCompat")
	for _, name := range algorithms.CompatSwitches() {
		require.Contains(t, field.Tag.Get("help"), name, "the flag's help names every switch")
	}
	_, err = resolve(t, []string{"--consensus", "10"}, nil)
	require.ErrorContains(t, err, "invalid --consensus")
}
