package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/kale-project/kale/utils/config"
)

func runCheckConfig(_ context.Context, args []string, stdout, stderr io.Writer) error {
	r, _, err := parseConfig("check-config", args, stderr, nil, nil)
	if err != nil {
		return err
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	src := "no config file"
	if r.File != "" {
		src = r.File
	}
	fmt.Fprintf(stdout, "config OK (%s). Effective values (credentials hidden):\n", src)
	for _, o := range config.Options() {
		v := o.Display(r.Config)
		fmt.Fprintf(stdout, "  %-20s = %-32q (%s)\n", o.Name, v, r.Sources[o.Name])
	}
	return nil
}

func runPrintDefault(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if _, _, err := parseConfig("print-default-config", args, stderr, nil, nil); err != nil {
		return err
	}
	return config.WriteTOML(stdout, config.DefaultConfig())
}

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) error {
	fmt.Fprintf(stdout, "kale %s\n%s %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision", "vcs.time", "vcs.modified", "CGO_ENABLED":
				fmt.Fprintf(stdout, "%s=%s\n", s.Key, s.Value)
			}
		}
	}
	return nil
}
