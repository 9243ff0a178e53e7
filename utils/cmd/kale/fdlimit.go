package main

import (
	"log/slog"
	"runtime"
	"syscall"

	"github.com/kale-project/kale/utils/config"
)

// fdPlan is how a serving process shares its file-descriptor limit: the horizon TCP
// listeners may each hold --max-conns connections, Redis and the process itself need some,
// and the webapp gets at most what is left, so that a flood of connections is held in the
// kernel's accept backlog instead of failing every accept with EMFILE.
type fdPlan struct {
	Limit        uint64 // soft RLIMIT_NOFILE after raising it
	Raised       bool   // the soft limit was raised to the hard limit
	Horizon      int    // --max-conns × TCP listeners
	Reserved     int    // Redis pool (both ends when embedded), listeners, index files, slack
	WebappMax    int    // connection cap the webapp gets
	HorizonFits  bool   // Horizon + Reserved fits in Limit
	WebappClamps bool   // WebappMax is lower than --webapp-max-conns
}

// minWebappConns is the fewest connections the webapp is ever capped to.
const minWebappConns = 16

// planFDs raises the soft fd limit to the hard limit (Go does this itself since 1.19; done
// again here to know the result) and works out how the limit is shared.
func planFDs(c *config.Config, horizon, webapp, embedded bool) fdPlan {
	var p fdPlan
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fdPlan{HorizonFits: true, WebappMax: c.WebappMaxConns}
	}
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = lim.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			lim, p.Raised = raised, true
		}
	}
	p.Limit = lim.Cur
	if horizon {
		for _, l := range c.Listeners() {
			if l.Addr != "" && (l.Option == "pickle-tcp" || l.Option == "plaintext-tcp") {
				p.Horizon += c.MaxConns
			}
		}
	}
	pool := max(10*runtime.GOMAXPROCS(0), 16) // go-redis's pool size
	if embedded {
		pool *= 2 // the in-process server holds the other end of every connection
	}
	p.Reserved = pool + 64 // stdio, listeners, epoll, bleve files, alert and Graphite sockets
	p.HorizonFits = uint64(p.Horizon+p.Reserved) <= p.Limit
	p.WebappMax = c.WebappMaxConns
	if webapp {
		left := int(min(p.Limit, 1<<30)) - p.Horizon - p.Reserved
		if left < p.WebappMax {
			p.WebappMax, p.WebappClamps = max(left, minWebappConns), true
		}
	}
	return p
}

// log reports the plan: one info line, and a warning naming the flags when the limit is short.
func (p fdPlan) log(log *slog.Logger, c *config.Config) {
	if p.Limit == 0 {
		return
	}
	log.Debug("file-descriptor limit", "limit", p.Limit, "raised_to_hard_limit", p.Raised,
		"horizon_tcp", p.Horizon, "reserved", p.Reserved, "webapp_max_conns", p.WebappMax)
	if !p.HorizonFits {
		log.Warn("the file-descriptor limit cannot hold --max-conns connections on every TCP listener: "+
			"accepts will fail with 'too many open files' under load (they back off and retry, the process keeps running); "+
			"raise the limit (ulimit -n, LimitNOFILE=) or lower --max-conns",
			"limit", p.Limit, "max_conns", c.MaxConns, "needed", p.Horizon+p.Reserved)
	}
	if p.WebappClamps {
		log.Warn("the webapp's connection cap is lowered to fit the file-descriptor limit; further connections wait in the kernel's backlog",
			"webapp_max_conns", c.WebappMaxConns, "effective", p.WebappMax, "limit", p.Limit)
	}
}
