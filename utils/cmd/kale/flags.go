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
	return r, fs, nil
}

func newLogger(c *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
