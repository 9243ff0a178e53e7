package alert

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"html"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// SMTPTimeout bounds one mail delivery: connect, TLS, authentication and the whole SMTP
// conversation.
const SMTPTimeout = 30 * time.Second

// SMTP mails alerts, as Skyline's alert_smtp did: subject "[skyline alert] <name>", a
// multipart/alternative text and HTML body with the value, the next-alert time and the graph
// (linked and embedded as an image when --graph-url is set). Recipients come from
// --alert-smtp-to: "pattern=address" entries receive the alerts of the rule with exactly that
// pattern (Skyline's SMTP_OPTS recipients), plain addresses receive every smtp alert; all
// recipients of one alert share one message. Transport security follows --alert-smtp-tls
// (starttls, which is required when chosen; tls, implicit TLS; none), and PLAIN
// authentication (--alert-smtp-user) is only ever used over TLS.
type SMTP struct {
	addr      string // host:port
	host      string
	security  string // starttls, tls or none
	from      *mail.Address
	to        []recipient
	user      string
	password  string // secret: never logged, never in errors
	graphURL  string
	helo      string
	timeout   time.Duration
	tlsConfig *tls.Config // nil: the system's roots; tests set their own
	now       func() time.Time
}

// recipient is one --alert-smtp-to entry; an empty pattern means every smtp alert.
type recipient struct {
	pattern string
	addr    *mail.Address
}

// NewSMTP builds the SMTP channel from the --alert-smtp-* options and --graph-url. It refuses
// authentication without TLS.
func NewSMTP(cfg *Config) (*SMTP, error) {
	host, _, err := net.SplitHostPort(cfg.SMTPAddr)
	if err != nil {
		return nil, fmt.Errorf("cannot use --alert-smtp-addr %q: %w", cfg.SMTPAddr, err)
	}
	switch cfg.SMTPTLS {
	case "starttls", "tls", "none":
	default:
		return nil, fmt.Errorf("cannot use --alert-smtp-tls %q: want starttls, tls or none", cfg.SMTPTLS)
	}
	if cfg.SMTPUser != "" && cfg.SMTPTLS == "none" {
		return nil, errors.New("cannot authenticate to the SMTP server without TLS: PLAIN authentication " +
			"would send the password in clear; set --alert-smtp-tls starttls or tls, or drop --alert-smtp-user")
	}
	if cfg.SMTPPassword != "" && cfg.SMTPUser == "" {
		return nil, errors.New("cannot use --alert-smtp-password without --alert-smtp-user")
	}
	from, err := mail.ParseAddress(cfg.SMTPFrom)
	if err != nil {
		return nil, fmt.Errorf("cannot parse --alert-smtp-from %q: %w", cfg.SMTPFrom, err)
	}
	s := &SMTP{
		addr: cfg.SMTPAddr, host: host, security: cfg.SMTPTLS, from: from,
		user: cfg.SMTPUser, password: cfg.SMTPPassword, graphURL: cfg.GraphURL,
		helo: heloName(), timeout: SMTPTimeout, now: time.Now,
	}
	for _, e := range cfg.SMTPTo {
		r, err := parseRecipient(e)
		if err != nil {
			return nil, err
		}
		s.to = append(s.to, r)
	}
	return s, nil
}

// parseRecipient reads "pattern=address" or "address". The split is at the last "=", so a
// pattern may contain "=" (addresses practically never do).
func parseRecipient(e string) (recipient, error) {
	var r recipient
	a := e
	if i := strings.LastIndexByte(e, '='); i >= 0 {
		r.pattern, a = e[:i], e[i+1:]
		if r.pattern == "" {
			return r, fmt.Errorf("cannot parse --alert-smtp-to entry %q: empty pattern before '='", e)
		}
	}
	addr, err := mail.ParseAddress(strings.TrimSpace(a))
	if err != nil {
		return r, fmt.Errorf("cannot parse --alert-smtp-to entry %q: %w", e, err)
	}
	r.addr = addr
	return r, nil
}

// heloName is the name given in EHLO: this host's name when it is a plain DNS name.
func heloName() string {
	h, err := os.Hostname()
	if err != nil || h == "" || strings.ContainsFunc(h, func(r rune) bool {
		return !(r == '-' || r == '.' || r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)))
	}) {
		return "localhost"
	}
	return h
}

// Name returns "smtp".
func (s *SMTP) Name() string { return "smtp" }

// String describes the server and its transport security.
func (s *SMTP) String() string { return "SMTP " + s.addr + " (" + s.security + ")" }

// Recipients returns the addresses that receive the alerts of a rule with this pattern.
func (s *SMTP) Recipients(pattern string) []string {
	var out []string
	for _, a := range s.recipients(pattern) {
		out = append(out, a.Address)
	}
	return out
}

func (s *SMTP) recipients(pattern string) []*mail.Address {
	var out []*mail.Address
	seen := make(map[string]bool)
	for _, r := range s.to {
		if (r.pattern == "" || r.pattern == pattern) && !seen[strings.ToLower(r.addr.Address)] {
			seen[strings.ToLower(r.addr.Address)] = true
			out = append(out, r.addr)
		}
	}
	return out
}

// CheckRule reports a rule whose pattern has no recipient.
func (s *SMTP) CheckRule(rule Rule) error {
	if len(s.recipients(rule.Pattern)) == 0 {
		return fmt.Errorf("no address for pattern %q (add %s=address, or a plain address for every smtp alert)", rule.Pattern, rule.Pattern)
	}
	return nil
}

// Send mails one alert to the rule's recipients over one connection.
func (s *SMTP) Send(ctx context.Context, rule Rule, a Anomaly) error {
	rcpts := s.recipients(rule.Pattern)
	if len(rcpts) == 0 {
		return fmt.Errorf("cannot send alert mail: %w: %w", ErrPermanent, s.CheckRule(rule))
	}
	msg, err := s.message(rule, a, rcpts)
	if err != nil {
		return fmt.Errorf("cannot compose alert mail: %w: %w", ErrPermanent, err)
	}
	return s.deliver(ctx, rcpts, msg)
}

func (s *SMTP) tlsConf() *tls.Config {
	if s.tlsConfig != nil {
		c := s.tlsConfig.Clone()
		if c.ServerName == "" {
			c.ServerName = s.host
		}
		return c
	}
	return &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}
}

// fail wraps an error of one SMTP step; 5xx replies are permanent.
func (s *SMTP) fail(step string, err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return fmt.Errorf("cannot %s (SMTP %s): %w: %w", step, s.addr, ErrPermanent, err)
	}
	return fmt.Errorf("cannot %s (SMTP %s): %w", step, s.addr, err)
}

func (s *SMTP) deliver(ctx context.Context, rcpts []*mail.Address, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return s.fail("connect to the mail server", err)
	}
	defer raw.Close()
	// The whole conversation ends at ctx's deadline, or at once when ctx is cancelled.
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	conn := raw
	if s.security == "tls" {
		tc := tls.Client(raw, s.tlsConf())
		if err := tc.HandshakeContext(ctx); err != nil {
			return s.fail("start TLS with the mail server", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return s.fail("greet the mail server", err)
	}
	defer c.Close()
	if err := c.Hello(s.helo); err != nil {
		return s.fail("greet the mail server", err)
	}
	if s.security == "starttls" {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return s.fail("start TLS with the mail server", fmt.Errorf("%w: the server does not offer STARTTLS "+
				"(set --alert-smtp-tls none to send in clear, or tls for implicit TLS)", ErrPermanent))
		}
		if err := c.StartTLS(s.tlsConf()); err != nil {
			return s.fail("start TLS with the mail server", err)
		}
	}
	if s.user != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return s.fail("authenticate", fmt.Errorf("%w: the server does not offer AUTH", ErrPermanent))
		}
		if err := c.Auth(smtp.PlainAuth("", s.user, s.password, s.host)); err != nil {
			return s.fail("authenticate as "+s.user, err)
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return s.fail("send alert mail", err)
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r.Address); err != nil {
			return s.fail("send alert mail to "+r.Address, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return s.fail("send alert mail", err)
	}
	if _, err := w.Write(msg); err != nil {
		return s.fail("send alert mail", err)
	}
	if err := w.Close(); err != nil {
		return s.fail("send alert mail", err)
	}
	// The server accepted the message at the end of DATA; a failed QUIT does not undo that.
	_ = c.Quit()
	return nil
}

// cleanText removes control characters (CR and LF above all), so a metric name cannot add
// header lines or break the body's layout.
func cleanText(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// headerText makes s safe as the text of a header: controls removed, at most 400 bytes, and
// RFC 2047 encoded when it is not plain ASCII.
func headerText(s string) string {
	s = cleanText(s)
	if len(s) > 400 {
		cut := 400
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return mime.QEncoding.Encode("utf-8", s)
}

// message composes the mail: headers with CRLF line ends, then a multipart/alternative body
// of a text part and an HTML part, both quoted-printable.
func (s *SMTP) message(rule Rule, a Anomaly, rcpts []*mail.Address) ([]byte, error) {
	name := cleanText(a.Metric)
	value := formatValue(a.Value)
	next := int64(rule.Expiration.Seconds())
	link := graphLink(s.graphURL, a.Metric)
	at := time.Unix(a.Timestamp, 0).UTC().Format(time.RFC3339)

	var text strings.Builder
	fmt.Fprintf(&text, "Anomalous metric: %s\r\nAnomalous value: %s\r\nAt: %s\r\nNext alert in: %d seconds\r\n", name, value, at, next)
	if len(a.Triggered) > 0 {
		fmt.Fprintf(&text, "Triggered: %s\r\n", cleanText(strings.Join(a.Triggered, ", ")))
	}
	if a.Explanation != "" {
		fmt.Fprintf(&text, "%s\r\n", cleanText(a.Explanation))
	}
	if link != "" {
		fmt.Fprintf(&text, "Graph: %s\r\n", link)
	}

	var htm strings.Builder
	fmt.Fprintf(&htm, "<html><body>\r\n<p>Anomalous metric: <b>%s</b><br>\r\nAnomalous value: %s<br>\r\nAt: %s<br>\r\nNext alert in: %d seconds",
		html.EscapeString(name), value, at, next)
	if len(a.Triggered) > 0 {
		fmt.Fprintf(&htm, "<br>\r\nTriggered: %s", html.EscapeString(cleanText(strings.Join(a.Triggered, ", "))))
	}
	if a.Explanation != "" {
		fmt.Fprintf(&htm, "<br>\r\n%s", html.EscapeString(cleanText(a.Explanation)))
	}
	htm.WriteString("</p>\r\n")
	if link != "" {
		l := html.EscapeString(link)
		fmt.Fprintf(&htm, "<p><a href=\"%s\"><img src=\"%s\" alt=\"graph of %s\"/></a></p>\r\n", l, l, html.EscapeString(name))
	}
	htm.WriteString("</body></html>\r\n")

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, p := range []struct{ ctype, content string }{
		{"text/plain; charset=utf-8", text.String()},
		{"text/html; charset=utf-8", htm.String()},
	} {
		part, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.ctype},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(part)
		if _, err := qp.Write([]byte(p.content)); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}

	to := make([]string, len(rcpts))
	for i, r := range rcpts {
		to[i] = r.String()
	}
	var m bytes.Buffer
	for _, h := range [][2]string{
		{"From", s.from.String()},
		{"To", strings.Join(to, ", ")},
		{"Subject", "[skyline alert] " + headerText(a.Metric)},
		{"Date", s.now().Format(time.RFC1123Z)},
		{"Message-ID", "<" + rand.Text() + "@" + s.helo + ">"},
		{"MIME-Version", "1.0"},
		{"Content-Type", "multipart/alternative; boundary=\"" + mw.Boundary() + "\""},
		{"Auto-Submitted", "auto-generated"},
		{"X-Kale-Rule", headerText(rule.String())},
	} {
		m.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	m.WriteString("\r\n")
	m.Write(body.Bytes())
	return m.Bytes(), nil
}
