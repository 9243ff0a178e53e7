package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/kale-project/kale/utils/config"
)

// splitArgs separates positional arguments (INPUTs, FILEs) from flags, so that flags may
// follow them (the flag package stops at the first argument that is not a flag). define adds
// the command's own flags next to the configuration flags. Everything after "--" is
// positional. When args do not parse, they are all returned as flags, for parseConfig to
// report the mistake.
func splitArgs(args []string, define func(*flag.FlagSet)) (flags, positional []string) {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	config.Bind(fs, nil)
	define(fs)
	rest := args
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return append(flags, rest...), positional
		}
		remaining := fs.Args()
		consumed := rest[:len(rest)-len(remaining)]
		flags = append(flags, consumed...)
		if len(consumed) > 0 && consumed[len(consumed)-1] == "--" {
			return flags, append(positional, remaining...)
		}
		if len(remaining) == 0 {
			break
		}
		positional = append(positional, remaining[0])
		rest = remaining[1:]
	}
	return flags, positional
}

// positiveDuration parses a flag value given as seconds or a Go duration into dst, refusing
// zero and negative values.
func positiveDuration(name string, dst *time.Duration) func(string) error {
	return func(s string) error {
		d, err := config.ParseDuration(s)
		if err != nil {
			return err
		}
		if d <= 0 {
			return fmt.Errorf("%s %q must be positive", name, s)
		}
		*dst = d
		return nil
	}
}

// parseWithPositional is parseConfig for commands whose positional arguments (INPUTs, FILEs)
// may be mixed with flags; on -h it prints help, then the command's own flags, then the
// configuration flags.
func parseWithPositional(name string, args []string, stderr io.Writer, help string, define func(*flag.FlagSet)) (*config.Resolved, *flag.FlagSet, []string, error) {
	flagArgs, positional := splitArgs(args, define)
	r, fs, err := parseConfig(name, flagArgs, stderr, nil, func(fs *flag.FlagSet) {
		define(fs)
		fs.Usage = func() { printUsage(fs.Output(), help, define) }
	})
	return r, fs, positional, err
}

func printUsage(w io.Writer, help string, define func(*flag.FlagSet)) {
	fmt.Fprint(w, help)
	own := flag.NewFlagSet("", flag.ContinueOnError)
	own.SetOutput(w)
	define(own)
	own.PrintDefaults()
	fmt.Fprint(w, "\nConfiguration flags (every kale command; each has a KALE_* environment twin and may come from --config FILE):\n")
	cfg := flag.NewFlagSet("", flag.ContinueOnError)
	cfg.SetOutput(w)
	config.Bind(cfg, nil)
	cfg.PrintDefaults()
}
