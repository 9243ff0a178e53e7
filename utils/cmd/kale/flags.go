package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/kale-project/kale/utils/config"
)

// parseConfig parses args with every config option plus the command's own flags (added by
// extra) and resolves the configuration.
func parseConfig(name string, args []string, stderr io.Writer, defaults *config.Config, extra func(fs *flag.FlagSet)) (*config.Resolved, *flag.FlagSet, error) {
	fs := flag.NewFlagSet("kale "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	b := config.Bind(fs, defaults)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, nil, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	r, err := b.Resolve(os.LookupEnv)
	if err != nil {
		return nil, nil, err
	}
	// Options whose meaning belongs to a service are validated by its package.
	if err := checkAnalyzerConfig(r.Config); err != nil {
		return nil, nil, err
	}
	return r, fs, nil
}

func newLogger(c *config.Config, w io.Writer) *slog.Logger {
	log, _ := newLevelLogger(c, w)
	return log
}

// newLevelLogger is newLogger with its level in a slog.LevelVar, so a long-running command
// can change it at run time (SIGHUP, POST /api/v1/admin/log-level).
func newLevelLogger(c *config.Config, w io.Writer) (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	setLevel(level, c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), level
	}
	return slog.New(slog.NewTextHandler(w, opts)), level
}

// setLevel sets v from a --log-level value (validated by config.Validate).
func setLevel(v *slog.LevelVar, name string) {
	var level slog.Level
	if level.UnmarshalText([]byte(name)) == nil {
		v.Set(level)
	}
}
