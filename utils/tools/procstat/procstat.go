// Package procstat reads a process's memory and CPU time from Linux /proc, for the tools and
// benchmarks that measure Kale the way a user runs it (capacity, searchload, the benchmarks'
// peak-RSS figures). Off Linux, or for a process that is gone, it reports zeros and ok false.
package procstat

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"time"
)

// Self names the calling process.
const Self = 0

func path(pid int, file string) string {
	if pid == Self {
		return "/proc/self/" + file
	}
	return "/proc/" + strconv.Itoa(pid) + "/" + file
}

// Memory returns the process's resident set size and its peak (VmRSS and VmHWM of
// /proc/<pid>/status) in MiB; ok is false when the file cannot be read.
func Memory(pid int) (rss, peak float64, ok bool) {
	b, err := os.ReadFile(path(pid, "status"))
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return rss, peak, true
}

// CPU returns the process's CPU time so far (utime + stime of /proc/<pid>/stat, in clock
// ticks of 1/100 s); ok is false when the file cannot be read.
func CPU(pid int) (cpu time.Duration, ok bool) {
	b, err := os.ReadFile(path(pid, "stat"))
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces: the fields after it follow the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, true
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, true
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond, true
}
