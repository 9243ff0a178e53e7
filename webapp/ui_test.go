package webapp

import (
	"context"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/kale-project/kale/horizon/listener"
)

// chromiumPath is Debian's chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// screenshotDir keeps a PNG of every page the UI tests visit (git-ignored), to look at.
const screenshotDir = "testdata/screenshots"

// browser starts headless Chromium for one test. Outside CI a missing chromium skips the
// test with a reason; in CI (CI=true) it fails it.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath
	if _, err := os.Stat(path); err != nil {
		p, lerr := exec.LookPath("chromium")
		if lerr != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("chromium is not installed, and CI=true: .ci/run must install it (apt-get install chromium)")
			}
			t.Skip("chromium is not installed (apt-get install chromium); skipping the UI test")
		}
		path = p
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 960),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	require.NoError(t, chromedp.Do(ctx), "cannot start chromium")
	return ctx
}

// run runs steps with a time limit (the browser's own context has none: it lives for the test).
func run(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(tctx, steps...))
}

// eval evaluates a JavaScript expression (promises are awaited).
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	require.NoError(t, err, "evaluating %s", expr)
	return v
}

// text reads an element's visible text.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(t, err)
	return v
}

// until waits for a JavaScript condition.
func until(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(15*time.Second))(ctx, tg)
		return err
	})
}

func visible(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel))
}
func click(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }
func keys(sel, v string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(chromedp.CSS(sel), v)
}

// shot saves a full-page PNG screenshot under testdata/screenshots.
func shot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`)(ctx, tg); err != nil {
			return err
		}
		buf, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(screenshotDir, name+".png"), buf, 0o644)
	})
}

// noInjection checks that the hostile name created no element and ran no script.
func noInjection(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	injected := eval[bool](t, ctx, `window.__xss !== undefined || document.querySelectorAll('img[src="x"], img[onerror]').length > 0 || `+
		`Array.from(document.scripts).some(s => s.textContent.includes('__xss=1') && !s.type.includes('json'))`)
	require.False(t, injected, "the hostile metric name was interpreted as markup on %s", page)
}

func TestUI(t *testing.T) {
	e := newEnv(t, envOptions{analyze: true, user: "ops", password: "s3cret", listeners: func() []listener.State {
		return []listener.State{
			{Protocol: "plaintext-tcp", Addr: "127.0.0.1:2003", Up: true},
			{Protocol: "msgpack-udp", Addr: "127.0.0.1:2025", Up: true},
			{Protocol: "pickle-tcp", Addr: "127.0.0.1:2024", Error: "listen tcp 127.0.0.1:2024: bind: address already in use"},
		}
	}, traffic: func() (received, rejected map[string]float64) {
		return map[string]float64{"plaintext-tcp": 52_340, "msgpack-udp": 1_200}, map[string]float64{"plaintext-tcp": 3}
	}})
	ctx := browser(t)
	base := e.http.URL
	require.True(t, e.server.ChartsBuilt() || os.Getenv("CI") != "true", "in CI the chart assets must be built (make assets)")
	charts := e.server.ChartsBuilt()
	chartIn := func(sel string) chromedp.Action[chromedp.Void] {
		if !charts {
			return visible(sel + " svg")
		}
		return visible(sel + " canvas")
	}

	t.Run("dashboard lists anomalies and draws charts", func(t *testing.T) {
		run(t, ctx,
			chromedp.Navigate(base+"/"),
			visible(`#anomalies tbody tr`),
			chartIn("#chart1h"), chartIn("#chart24h"),
			visible(`#anomalies td.spark svg`),
			chromedp.Sleep(300*time.Millisecond),
			shot("dashboard"),
		)
		require.Positive(t, eval[int](t, ctx, `document.querySelectorAll('#anomalies tbody tr').length`))
		name := eval[string](t, ctx, `Array.from(document.querySelectorAll('#anomalies tbody tr td.name a')).map(a => a.textContent).find(n => n.startsWith('evil')) || ''`)
		require.Equal(t, hostile, name, "the hostile name must render as text")
		noInjection(t, ctx, "/")
	})

	t.Run("selecting a row updates the charts", func(t *testing.T) {
		first := text(t, ctx, `#sel-name`)
		run(t, ctx,
			click(`#anomalies tbody tr:nth-child(2) td:nth-child(2)`),
			until(`document.body.dataset.selected === document.querySelector('#anomalies tbody tr:nth-child(2)').dataset.metric`),
		)
		second := text(t, ctx, `#sel-name`)
		run(t, ctx,
			chromedp.KeyEvent(kb.ArrowDown),
			until(`document.body.dataset.selected === document.querySelector('#anomalies tbody tr:nth-child(3)').dataset.metric`),
			chartIn("#chart1h"),
			shot("dashboard-selected"),
		)
		third := text(t, ctx, `#sel-name`)
		require.NotEqual(t, first, second)
		require.NotEqual(t, second, third)
		require.Equal(t, third, eval[string](t, ctx, `document.body.dataset.selected`), "the charts follow the selection")
		require.Equal(t, third, eval[string](t, ctx, `document.querySelector('#anomalies tr.selected').dataset.metric`))
	})

	t.Run("metric page renders the hostile name escaped", func(t *testing.T) {
		run(t, ctx,
			chromedp.Navigate(base+"/metric/"+url.PathEscape(hostile)),
			visible(`h1.metric-name`),
			chartIn("#chart-full"),
			visible(`#similar .hit`),
			chromedp.Sleep(300*time.Millisecond),
			shot("metric-hostile"),
		)
		require.Equal(t, hostile, text(t, ctx, `h1.metric-name`))
		noInjection(t, ctx, "/metric/")
	})

	t.Run("metric page", func(t *testing.T) {
		run(t, ctx,
			chromedp.Navigate(base+"/metric/demo.web.latency_ms"),
			chartIn("#chart-full"), chartIn("#chart-hour"),
			visible(`#similar .hit svg`),
			chromedp.Sleep(200*time.Millisecond),
			shot("metric"),
		)
	})

	t.Run("search by name returns results with charts", func(t *testing.T) {
		run(t, ctx,
			chromedp.Navigate(base+"/search"),
			visible(`#q`),
			keys(`#q`, "demo.web.latency_ms"),
			chromedp.Submit(chromedp.CSS(`#q`)),
			visible(`#results .hit`),
			chartIn(`#results .hit:first-child .chart`),
			shot("search-name"),
		)
		hits := eval[int](t, ctx, `document.querySelectorAll('#results .hit').length`)
		require.Positive(t, hits)
		require.Equal(t, hits, eval[int](t, ctx, `document.querySelectorAll('#results .chart canvas, #results .chart svg').length`), "every result has a chart")
		names := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('#results .hit .name')).map(a => a.textContent)`)
		require.NotContains(t, names, "demo.web.latency_ms", "the query metric is left out by default")
	})

	t.Run("drawn-shape search returns results with charts", func(t *testing.T) {
		run(t, ctx,
			chromedp.Navigate(base+"/search"),
			click(`details.draw summary`),
			visible(`#draw`),
			drawShape(`#draw`),
			until(`document.getElementById('draw_values').value.split(',').length >= 60`),
			shot("search-drawing"),
			click(`#draw-submit`),
			visible(`#results .hit`),
			chartIn(`#results .hit:first-child .chart`),
			chartIn(`#query-chart`),
			shot("search-drawn"),
		)
		require.Positive(t, eval[int](t, ctx, `document.querySelectorAll('#results .hit').length`))
		require.Contains(t, eval[string](t, ctx, `location.search`), "draw_values=")
	})

	t.Run("a write without credentials is refused", func(t *testing.T) {
		status := eval[int](t, ctx, `fetch('/api/v1/collections', {method: 'POST', headers: {'Content-Type': 'application/json',
			'X-Requested-With': 'kale-ui', 'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content},
			body: JSON.stringify({name: 'x', metrics: ['demo.web.requests']})}).then(r => r.status)`)
		require.Equal(t, 401, status)
	})

	t.Run("saving a collection works with credentials", func(t *testing.T) {
		run(t, ctx,
			chromedp.Navigate(base+"/search?query=demo.web.latency_ms&search_type=DTW"),
			visible(`#results .hit`),
			click(`#results .hit:nth-child(1) [data-add-tray]`),
			click(`#results .hit:nth-child(2) [data-add-tray]`),
			visible(`#tray`),
			chromedp.Navigate(base+"/collections#new"),
			visible(`#tray-list li`),
			keys(`#new-collection input[name=name]`, "latency incident"),
			keys(`#new-collection textarea[name=description]`, "Latency & traffic <b>spiked</b> together"),
			shot("collections-new"),
			click(`#new-collection button.primary`),
			// The server asks for credentials: the sign-in dialog opens.
			visible(`#signin`),
			keys(`#signin input[name=user]`, "ops"),
			keys(`#signin input[name=password]`, "s3cret"),
			shot("signin"),
			click(`#signin button[value=ok]`),
			visible(`#members .hit`),
			chartIn(`#members .hit:first-child .chart`),
			shot("collection"),
		)
		require.Equal(t, "latency incident", text(t, ctx, `h1`))
		require.Equal(t, 2, eval[int](t, ctx, `document.querySelectorAll('#members .hit').length`))
		cols, err := e.oc.Collections(context.Background())
		require.NoError(t, err)
		require.Len(t, cols, 1)
	})

	t.Run("marking an anomaly as not anomalous stores feedback", func(t *testing.T) {
		run(t, ctx,
			chromedp.Navigate(base+"/metric/demo.db.latency_ms"),
			visible(`form[data-api-form] button`),
			click(`form[data-api-form] button`),
			visible(`p.ok`),
			chartIn("#chart-full"),
			shot("metric-feedback"),
		)
		require.Contains(t, text(t, ctx, `p.ok`), "not anomalous")
		n, err := e.store.Client().ZCard(context.Background(), KeyFeedbackPrefix+"demo.db.latency_ms").Result()
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
	})

	t.Run("collections list, status and help", func(t *testing.T) {
		run(t, ctx,
			chromedp.Navigate(base+"/collections"),
			visible(`table.grid a`),
			shot("collections"),
		)
		require.Equal(t, "latency incident", text(t, ctx, `table.grid a`))
		run(t, ctx,
			chromedp.Navigate(base+"/status"),
			visible(`.status-grid`),
			shot("status"),
			chromedp.Navigate(base+"/help"),
			visible(`article.help`),
			shot("help"),
		)
	})

	t.Run("dark theme", func(t *testing.T) {
		dark := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
			return err
		})
		run(t, ctx, dark,
			chromedp.Navigate(base+"/"),
			chartIn("#chart24h"),
			visible(`#anomalies td.spark svg`),
			chromedp.Sleep(200*time.Millisecond),
			shot("dashboard-dark"),
			chromedp.Navigate(base+"/search?query=demo.web.requests"),
			chartIn(`#results .hit:first-child .chart`),
			shot("search-dark"),
		)
		bg := eval[string](t, ctx, `getComputedStyle(document.body).backgroundColor`)
		require.Equal(t, "rgb(13, 17, 23)", bg, "prefers-color-scheme: dark switches the palette")
	})

	t.Run("hostile name in search results stays text", func(t *testing.T) {
		run(t, ctx,
			chromedp.Navigate(base+"/search?search_type=DTW&include_self=true&query="+url.QueryEscape(hostile)),
			visible(`#results .hit`),
			shot("search-hostile"),
		)
		noInjection(t, ctx, "/search")
		names := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('#results .hit .name')).map(a => a.textContent)`)
		require.Contains(t, names, hostile)
	})
}

// TestUIEmptyState checks the newcomer's view: no data, instructions to send some.
func TestUIEmptyState(t *testing.T) {
	e := newEnv(t, envOptions{metrics: -1, noSearch: true})
	ctx := browser(t)
	run(t, ctx,
		chromedp.Navigate(e.http.URL+"/"),
		visible(`#empty`),
		shot("dashboard-empty"),
	)
	body := text(t, ctx, `#empty`)
	require.Contains(t, body, "kale seed")
	require.Contains(t, body, "2003")
	require.Contains(t, body, "msgpack")
}

// drawShape drags the mouse across a canvas: a flat line rising to a peak and back.
func drawShape(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		box, err := chromedp.Evaluate[[]float64](`(() => { const r = document.querySelector('`+sel+`').getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`)(ctx, tg)
		if err != nil {
			return err
		}
		x0, y0, w, h := box[0], box[1], box[2], box[3]
		const steps = 40
		pts := make([][2]float64, 0, steps+1)
		for i := 0; i <= steps; i++ {
			f := float64(i) / steps
			v := 0.2
			if f > 0.6 && f < 0.8 {
				v = 0.2 + 0.7*(1-math.Abs(f-0.7)/0.1)
			}
			pts = append(pts, [2]float64{x0 + 2 + f*(w-4), y0 + h*(1-v)})
		}
		held := func(p *input.DispatchMouseEventParams) { p.Buttons = 1 }
		steps2 := []chromedp.Action[chromedp.Void]{chromedp.MouseEvent(chromedp.MousePressed, pts[0][0], pts[0][1], chromedp.ButtonLeft, chromedp.ClickCount(1))}
		for _, p := range pts[1:] {
			steps2 = append(steps2, chromedp.MouseEvent(chromedp.MouseMoved, p[0], p[1], chromedp.ButtonLeft, held))
		}
		last := pts[len(pts)-1]
		steps2 = append(steps2, chromedp.MouseEvent(chromedp.MouseReleased, last[0], last[1], chromedp.ButtonLeft, chromedp.ClickCount(1)))
		_, err = chromedp.Steps(steps2...)(ctx, tg)
		return err
	})
}

// TestUIThousandAnomalies checks the dashboard stays usable with 1,000 current anomalies: the
// table renders every row, sparklines load only for the rows on screen, and re-rendering
// (filter, refresh) stays fast.
func TestUIThousandAnomalies(t *testing.T) {
	e := newEnv(t, envOptions{metrics: -1, noSearch: true})
	seedBench(t, e.store, time.Now(), 5000, 1000)
	ctx := browser(t)
	run(t, ctx,
		chromedp.Navigate(e.http.URL+"/"),
		until(`document.querySelectorAll('#anomalies tbody tr').length === 1000`),
		visible(`#anomalies td.spark svg`),
		chromedp.Sleep(500*time.Millisecond),
		shot("dashboard-1000"),
	)
	nav := eval[[]float64](t, ctx, `(n => [n.responseEnd, n.domInteractive, n.domContentLoadedEventEnd])(performance.getEntriesByType("navigation")[0])`)
	loaded := nav[2]
	t.Logf("navigation: response end %.0f ms, DOM interactive %.0f ms", nav[0], nav[1])
	sparks := eval[int](t, ctx, `document.querySelectorAll('#anomalies td.spark svg').length`)
	filter := eval[float64](t, ctx, `(() => { const f = document.querySelector('#filter'), t = performance.now();
		f.value = 'svc00'; f.dispatchEvent(new Event('input')); return performance.now() - t; })()`)
	filtered := eval[int](t, ctx, `document.querySelectorAll('#anomalies tbody tr').length`)
	full := eval[float64](t, ctx, `(() => { const f = document.querySelector('#filter'), t = performance.now();
		f.value = ''; f.dispatchEvent(new Event('input')); return performance.now() - t; })()`)
	move := eval[float64](t, ctx, `(() => { const t = performance.now();
		document.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowDown', bubbles: true})); return performance.now() - t; })()`)
	t.Logf("1,000 anomalies: DOMContentLoaded %.0f ms, %d sparklines loaded (lazily), filter re-render %.1f ms (%d rows), full re-render %.1f ms, ArrowDown %.1f ms",
		loaded, sparks, filter, filtered, full, move)
	require.Less(t, sparks, 200, "sparklines load for the visible rows only")
	require.Less(t, filtered, 1000)
	require.Less(t, full, 1000.0, "re-rendering 1,000 rows takes well under a second")
	require.Equal(t, 1000, eval[int](t, ctx, `document.querySelectorAll('#anomalies tbody tr').length`))
}
