package nab

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Job is one input file and the output file it is scored into.
type Job struct {
	Input  string // CSV file read
	Output string // CSV file written
	Name   string // Output relative to the output folder (slash-separated), for messages
	size   int64
}

// Plan maps inputs (CSV files, or folders searched recursively for *.csv) to jobs writing
// into outDir: a file in a folder INPUT goes to outDir/<its path relative to INPUT>, a file
// named directly goes to outDir/<its base name>. Files under outDir itself are skipped, so
// that outDir may sit inside an input folder. It fails when an input is missing, a folder
// holds no CSV file, two inputs map to one output, or an output would overwrite an input.
// Jobs are sorted by Name.
func Plan(inputs []string, outDir string) ([]Job, error) {
	if len(inputs) == 0 {
		return nil, errors.New("cannot plan: no input")
	}
	absOut, err := filepath.Abs(outDir)
	if err != nil {
		return nil, fmt.Errorf("cannot resolve output folder %q: %w", outDir, err)
	}
	var jobs []Job
	add := func(in, rel string, size int64) {
		jobs = append(jobs, Job{Input: in, Output: filepath.Join(outDir, rel), Name: filepath.ToSlash(rel), size: size})
	}
	for _, in := range inputs {
		st, err := os.Stat(in)
		if err != nil {
			return nil, fmt.Errorf("cannot read input %q: %w", in, err)
		}
		if !st.IsDir() {
			add(in, filepath.Base(in), st.Size())
			continue
		}
		found := 0
		err = filepath.WalkDir(in, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if abs, err := filepath.Abs(path); err == nil && within(abs, absOut) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() || !strings.EqualFold(filepath.Ext(path), ".csv") {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if !info.Mode().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(in, path)
			if err != nil {
				return err
			}
			add(path, rel, info.Size())
			found++
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("cannot list input folder %q: %w", in, err)
		}
		if found == 0 {
			return nil, fmt.Errorf("cannot find a .csv file in input folder %q", in)
		}
	}
	outputs := map[string]string{}
	for _, j := range jobs {
		absIn, err1 := filepath.Abs(j.Input)
		absJobOut, err2 := filepath.Abs(j.Output)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("cannot resolve %q: %w", j.Input, err)
		}
		if absIn == absJobOut {
			return nil, fmt.Errorf("cannot write %q: it is the input file itself (choose another --out)", j.Output)
		}
		if prev, ok := outputs[absJobOut]; ok {
			return nil, fmt.Errorf("cannot write %q twice: inputs %q and %q both map to it", j.Output, prev, j.Input)
		}
		outputs[absJobOut] = j.Input
	}
	slices.SortFunc(jobs, func(a, b Job) int { return cmp.Compare(a.Name, b.Name) })
	return jobs, nil
}

// within reports whether path is dir or inside it (both absolute and clean).
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// Result reports one scored file.
type Result struct {
	Job
	Rows    int
	Elapsed time.Duration
}

// Run scores every job with a fresh Scorer from f, at most workers files at a time
// (GOMAXPROCS when workers <= 0), largest files first. Each output is written to a
// temporary file and renamed into place when complete. report, if not nil, is called after
// each file, one call at a time. The first error cancels the remaining jobs and is returned.
func Run(ctx context.Context, jobs []Job, f Factory, workers int, report func(Result)) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	order := slices.Clone(jobs)
	slices.SortStableFunc(order, func(a, b Job) int { return cmp.Compare(b.size, a.size) })
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	var mu sync.Mutex
	for _, j := range order {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			start := time.Now()
			rows, err := ScoreFile(gctx, j, f())
			if err != nil {
				return err
			}
			if report != nil {
				mu.Lock()
				defer mu.Unlock()
				report(Result{Job: j, Rows: rows, Elapsed: time.Since(start)})
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// ScoreFile scores one job's input with s into its output (see ScoreCSV) and returns the
// number of rows. The output appears only when complete.
func ScoreFile(ctx context.Context, j Job, s Scorer) (int, error) {
	in, err := os.Open(j.Input)
	if err != nil {
		return 0, fmt.Errorf("cannot score %q: %w", j.Input, err)
	}
	defer in.Close()
	dir := filepath.Dir(j.Output)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("cannot create output folder: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(j.Output)+".*.tmp")
	if err != nil {
		return 0, fmt.Errorf("cannot create output file: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	rows, err := ScoreCSV(ctx, in, tmp, s)
	if err != nil {
		tmp.Close()
		return rows, fmt.Errorf("cannot score %q: %w", j.Input, err)
	}
	if err := tmp.Close(); err != nil {
		return rows, fmt.Errorf("cannot write %q: %w", j.Output, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return rows, fmt.Errorf("cannot write %q: %w", j.Output, err)
	}
	if err := os.Rename(tmp.Name(), j.Output); err != nil {
		return rows, fmt.Errorf("cannot write %q: %w", j.Output, err)
	}
	return rows, nil
}
