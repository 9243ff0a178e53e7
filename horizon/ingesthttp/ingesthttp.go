// Package ingesthttp is horizon's HTTP ingest endpoint (--ingest-http, TCP 2006): Prometheus
// remote_write v1 (POST /api/v1/write), the InfluxDB line protocol (POST /write for v1
// clients, POST /api/v2/write for v2 clients) and OpenTelemetry metrics over OTLP/HTTP
// (POST /v1/metrics, protobuf), decoded by horizon/promwrite, horizon/influx and horizon/otlp
// and handed to the writer through a Sink. Skyline had no HTTP input; its successor needed a
// separate gateway (flux) for this.
//
// The package serves HTTP only: it binds nothing. The caller owns the http.Server, its
// timeouts and its lifecycle.
package ingesthttp

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kale-project/kale/horizon/influx"
	"github.com/kale-project/kale/horizon/ingest"
	"github.com/kale-project/kale/horizon/otlp"
	"github.com/kale-project/kale/horizon/promwrite"
	"github.com/kale-project/kale/horizon/protocol"
	"github.com/kale-project/kale/utils/metric"
)

// Protocol names, the "protocol" label of the counters (horizon/protocol's names).
const (
	RemoteWrite = protocol.RemoteWrite
	InfluxV1    = protocol.InfluxV1
	InfluxV2    = protocol.InfluxV2
	OTLP        = protocol.OTLP
)

// Sink takes the points of one request, decoded from the format proto (RemoteWrite,
// InfluxV1, InfluxV2 or OTLP). Put returns only once the points are accepted (queued in the bounded
// writer): the handler answers 2xx after that, never before. A sink that cannot take them now
// returns an error wrapping ErrFull; the client is told to retry (429 with Retry-After),
// which is what makes Prometheus back off.
type Sink interface {
	Put(ctx context.Context, proto string, pts []metric.Point) error
}

// ErrFull is wrapped by a Sink's error when its queue is full.
var ErrFull = errors.New("ingest queue is full")

// Counter counts what the handler decoded and rejected, per protocol (one of RemoteWrite,
// InfluxV1, InfluxV2, OTLP) and reason; horizon's telemetry implements it with
// kale_horizon_received_total and kale_horizon_rejected_total.
type Counter interface {
	Received(protocol string, n int)
	Rejected(protocol string, reason ingest.Reason, n int)
}

// Config sets the handler. Zero fields take DefaultConfig's values.
type Config struct {
	// Token, when set, is required on every write: "Authorization: Bearer <token>" (the
	// scheme in any case; Prometheus's authorization/bearer_token), "Authorization: Token
	// <token>" (Influx v2 clients), HTTP basic auth with the token as the password, or the
	// v1 query parameter p=<token> (Influx v1 clients).
	Token string
	// MaxBody bounds the bytes read from the wire per request (before decompression);
	// larger bodies get 413. Default 16 MiB.
	MaxBody int
	// Limits are the decoders' limits; Limits.MaxPayload also bounds a gunzipped Influx or
	// OTLP body and the snappy-decoded remote_write request.
	Limits ingest.Limits
	// RetryAfter is the Retry-After sent with 429 and 503. Default 5 s.
	RetryAfter time.Duration
	// Now stamps Influx lines that carry no timestamp. Default time.Now.
	Now func() time.Time
	// Counter counts decoded and rejected datapoints; nil counts nothing.
	Counter Counter
	// Logger logs sink failures (not rejections: those are counted). Default slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{MaxBody: 16 << 20, Limits: ingest.DefaultLimits(), RetryAfter: 5 * time.Second, Now: time.Now}
}

// Handler serves the ingest routes. It is safe for concurrent use.
type Handler struct {
	cfg       Config
	sink      Sink
	tokenHash [sha256.Size]byte
	mux       *http.ServeMux
}

// New returns the handler of cfg writing to sink.
func New(cfg Config, sink Sink) *Handler {
	d := DefaultConfig()
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = d.MaxBody
	}
	if cfg.Limits == (ingest.Limits{}) {
		cfg.Limits = d.Limits
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = d.RetryAfter
	}
	if cfg.Now == nil {
		cfg.Now = d.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{cfg: cfg, sink: sink, tokenHash: sha256.Sum256([]byte(cfg.Token)), mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /api/v1/write", h.auth(h.remoteWrite))
	h.mux.HandleFunc("POST /write", h.auth(func(w http.ResponseWriter, r *http.Request) { h.influx(w, r, InfluxV1) }))
	h.mux.HandleFunc("POST /api/v2/write", h.auth(func(w http.ResponseWriter, r *http.Request) { h.influx(w, r, InfluxV2) }))
	h.mux.HandleFunc("POST /v1/metrics", h.auth(h.otlp))
	// Influx clients probe /ping, and Telegraf's v1 output creates its database through
	// /query unless skip_database_creation is set: both succeed without doing anything.
	h.mux.HandleFunc("GET /ping", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h.mux.HandleFunc("HEAD /ping", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h.mux.HandleFunc("POST /query", h.auth(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"results":[{"statement_id":0}]}`)
	}))
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// auth checks the token in constant time (on hashes, so the length leaks nothing either).
func (h *Handler) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.cfg.Token == "" || h.authorized(r) {
			next(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="kale"`)
		httpError(w, http.StatusUnauthorized, "missing or wrong token")
	}
}

func (h *Handler) authorized(r *http.Request) bool {
	var given string
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, cred, _ := strings.Cut(strings.TrimSpace(a), " ")
		cred = strings.TrimSpace(cred)
		switch strings.ToLower(scheme) {
		case "bearer", "token":
			given = cred
		case "basic":
			raw, err := base64.StdEncoding.DecodeString(cred)
			if err != nil {
				return false
			}
			_, given, _ = strings.Cut(string(raw), ":")
		default:
			return false
		}
	} else if p := r.URL.Query().Get("p"); p != "" {
		given = p
	} else {
		return false
	}
	sum := sha256.Sum256([]byte(given))
	return subtle.ConstantTimeCompare(sum[:], h.tokenHash[:]) == 1
}

// readBody reads at most MaxBody bytes; false means it already answered.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request, proto string) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(h.cfg.MaxBody)))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.reject(proto, ingest.TooLarge, 1)
			httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body exceeds %d bytes", h.cfg.MaxBody))
			return nil, false
		}
		httpError(w, http.StatusBadRequest, "cannot read body: "+err.Error())
		return nil, false
	}
	return b, true
}

func (h *Handler) remoteWrite(w http.ResponseWriter, r *http.Request) {
	// Remote write 2.0 senders fall back to 1.0 on 415.
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, params, _ := strings.Cut(ct, ";")
		if strings.TrimSpace(mt) != "application/x-protobuf" || strings.Contains(params, "io.prometheus.write.v2") {
			httpError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Type %q: want application/x-protobuf (remote write 1.0)", ct))
			return
		}
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "snappy") {
		httpError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Encoding %q: want snappy", ce))
		return
	}
	body, ok := h.readBody(w, r, RemoteWrite)
	if !ok {
		return
	}
	var pts []metric.Point
	err := promwrite.Decode(body, h.cfg.Limits, func(p metric.Point) { pts = append(pts, p) })
	h.finish(w, r, RemoteWrite, pts, err)
}

func (h *Handler) influx(w http.ResponseWriter, r *http.Request, proto string) {
	prec, err := influx.ParsePrecision(r.URL.Query().Get("precision"))
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	body, ok := h.readBody(w, r, proto)
	if !ok {
		return
	}
	switch ce := strings.ToLower(r.Header.Get("Content-Encoding")); ce {
	case "", "identity":
	case "gzip":
		if body, ok = h.gunzip(w, body, proto); !ok {
			return
		}
	default:
		httpError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Encoding %q: want gzip or none", ce))
		return
	}
	var pts []metric.Point
	derr := influx.Decode(body, h.cfg.Limits, influx.Options{Precision: prec, Now: h.cfg.Now()}, func(p metric.Point) { pts = append(pts, p) })
	h.finish(w, r, proto, pts, derr)
}

// gunzip decompresses at most Limits.MaxPayload bytes.
func (h *Handler) gunzip(w http.ResponseWriter, body []byte, proto string) ([]byte, bool) {
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		h.reject(proto, ingest.Malformed, 1)
		httpError(w, http.StatusBadRequest, "cannot read gzip body: "+err.Error())
		return nil, false
	}
	limit := h.cfg.Limits.MaxPayload
	out, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		h.reject(proto, ingest.Malformed, 1)
		httpError(w, http.StatusBadRequest, "cannot read gzip body: "+err.Error())
		return nil, false
	}
	if len(out) > limit {
		h.reject(proto, ingest.TooLarge, 1)
		httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("decompressed body exceeds %d bytes", limit))
		return nil, false
	}
	return out, true
}

// otlp serves OTLP/HTTP metrics export requests (protobuf only, optionally gzipped) and
// answers as OTLP/HTTP exporters expect: 200 with an ExportMetricsServiceResponse
// (application/x-protobuf; empty when everything was stored, partial_success with
// rejected_data_points otherwise, the good points being stored first); 400 (413 when over a
// limit) with a google.rpc.Status for a request that cannot be decoded at all; 415 for JSON
// or an unknown Content-Encoding; 429 or 503 with Retry-After under back-pressure, which
// OTLP exporters retry.
func (h *Handler) otlp(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ := strings.Cut(ct, ";")
		if !strings.EqualFold(strings.TrimSpace(mt), "application/x-protobuf") {
			httpError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Type %q: want application/x-protobuf (OTLP/HTTP JSON is not supported)", ct))
			return
		}
	}
	body, ok := h.readBody(w, r, OTLP)
	if !ok {
		return
	}
	switch ce := strings.ToLower(r.Header.Get("Content-Encoding")); ce {
	case "", "identity":
	case "gzip":
		if body, ok = h.gunzip(w, body, OTLP); !ok {
			return
		}
	default:
		httpError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Encoding %q: want gzip or none", ce))
		return
	}
	var pts []metric.Point
	derr := otlp.Decode(body, h.cfg.Limits, func(p metric.Point) { pts = append(pts, p) })
	if errors.Is(derr, otlp.ErrRequest) {
		ingest.Count(derr, func(reason ingest.Reason, n int) { h.reject(OTLP, reason, n) })
		code, status := http.StatusBadRequest, int32(3) // INVALID_ARGUMENT
		var e *ingest.Error
		if errors.As(derr, &e) && e.Counts[ingest.TooLarge] > 0 {
			code, status = http.StatusRequestEntityTooLarge, 8 // RESOURCE_EXHAUSTED
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(code)
		_, _ = w.Write(otlp.AppendStatus(nil, status, derr.Error()))
		return
	}
	rejected, ok := h.put(w, r, OTLP, pts, derr)
	if !ok {
		return
	}
	var resp []byte
	if rejected > 0 {
		resp = otlp.AppendResponse(nil, int64(rejected), fmt.Sprintf("%d data point(s) stored, %d rejected (histograms, summaries and exponential histograms count one per metric), first: %v", len(pts), rejected, errors.Unwrap(derr)))
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(resp)
}

// finish hands the decoded points to the sink, counts, and answers: 204 when everything was
// stored; 400 when some or all input was rejected (the good points are stored first, as
// InfluxDB's "partial write" and Prometheus-compatible receivers do; neither client retries
// a 400); 429 with Retry-After when the sink is full; 503 with Retry-After on any other sink
// failure (both retried by Prometheus and Telegraf).
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, proto string, pts []metric.Point, decodeErr error) {
	rejected, ok := h.put(w, r, proto, pts, decodeErr)
	if !ok {
		return
	}
	if rejected > 0 {
		msg := fmt.Sprintf("partial write: %d point(s) stored, %d rejected, first: %v", len(pts), rejected, errors.Unwrap(decodeErr))
		if errors.Unwrap(decodeErr) == nil {
			msg = fmt.Sprintf("partial write: %d point(s) stored, %d rejected: %v", len(pts), rejected, decodeErr)
		}
		httpError(w, http.StatusBadRequest, msg)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// put counts the decoded and rejected points and hands the good ones to the sink. It returns
// the number of rejections, and false when the sink failed and it already answered: 429 with
// Retry-After when the sink is full, 503 with Retry-After on any other failure.
func (h *Handler) put(w http.ResponseWriter, r *http.Request, proto string, pts []metric.Point, decodeErr error) (int, bool) {
	rejected := 0
	if decodeErr != nil {
		rejected = ingest.Count(decodeErr, func(reason ingest.Reason, n int) { h.reject(proto, reason, n) })
	}
	if h.cfg.Counter != nil && len(pts) > 0 {
		h.cfg.Counter.Received(proto, len(pts))
	}
	if len(pts) > 0 {
		if err := h.sink.Put(r.Context(), proto, pts); err != nil {
			w.Header().Set("Retry-After", strconv.Itoa(int((h.cfg.RetryAfter+time.Second-1)/time.Second)))
			if errors.Is(err, ErrFull) {
				h.reject(proto, ingest.QueueFull, len(pts))
				httpError(w, http.StatusTooManyRequests, "ingest queue is full, retry later")
				return rejected, false
			}
			if r.Context().Err() == nil {
				h.cfg.Logger.Warn("cannot queue ingested points", "protocol", proto, "points", len(pts), "err", err)
			}
			httpError(w, http.StatusServiceUnavailable, "cannot queue points, retry later")
			return rejected, false
		}
	}
	return rejected, true
}

func (h *Handler) reject(proto string, reason ingest.Reason, n int) {
	if h.cfg.Counter != nil && n > 0 {
		h.cfg.Counter.Rejected(proto, reason, n)
	}
}

// httpError answers {"error": msg}, the shape Influx v1 clients read and Prometheus logs.
func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
	}{msg})
}
