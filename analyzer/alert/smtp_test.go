package alert

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeSMTP is a tiny SMTP server on 127.0.0.1:0 that speaks just enough of the protocol:
// EHLO/HELO, STARTTLS (when tlsConf is set), AUTH PLAIN (when user is set, and only after
// TLS, as real servers do), MAIL, RCPT, DATA, RSET, NOOP, QUIT.
type fakeSMTP struct {
	ln       net.Listener
	tlsConf  *tls.Config // offers STARTTLS, or implicit TLS when implicit is set
	implicit bool
	user     string
	pass     string
	rcptCode int // reply to RCPT when non-zero (e.g. 550)

	wg   sync.WaitGroup
	mu   sync.Mutex
	msgs []fakeMsg
}

type fakeMsg struct {
	from   string
	to     []string
	data   string
	tls    bool
	authed string
}

func startSMTP(t *testing.T, f *fakeSMTP) *fakeSMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f.ln = ln
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.serve(c)
			}()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); f.wg.Wait() })
	return f
}

func (f *fakeSMTP) addr() string { return f.ln.Addr().String() }

func (f *fakeSMTP) messages() []fakeMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeMsg(nil), f.msgs...)
}

func (f *fakeSMTP) serve(c net.Conn) {
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var m fakeMsg
	if f.implicit {
		tc := tls.Server(c, f.tlsConf)
		if tc.Handshake() != nil {
			return
		}
		c, m.tls = tc, true
	}
	tp := textproto.NewConn(c)
	reply := func(format string, args ...any) { _ = tp.PrintfLine(format, args...) }
	reply("220 fake ESMTP")
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			ext := []string{"fake greets " + arg}
			if f.tlsConf != nil && !m.tls {
				ext = append(ext, "STARTTLS")
			}
			if f.user != "" && m.tls {
				ext = append(ext, "AUTH PLAIN")
			}
			for i, e := range ext {
				sep := "-"
				if i == len(ext)-1 {
					sep = " "
				}
				reply("250%s%s", sep, e)
			}
		case "STARTTLS":
			reply("220 go ahead")
			tc := tls.Server(c, f.tlsConf)
			if tc.Handshake() != nil {
				return
			}
			c, m.tls = tc, true
			tp = textproto.NewConn(c)
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			b, _ := base64.StdEncoding.DecodeString(resp)
			if !m.tls || mech != "PLAIN" || string(b) != "\x00"+f.user+"\x00"+f.pass {
				reply("535 5.7.8 authentication failed")
				continue
			}
			m.authed = f.user
			reply("235 2.7.0 ok")
		case "MAIL":
			if f.user != "" && m.authed == "" {
				reply("530 5.7.0 authentication required")
				continue
			}
			m.from = arg
			reply("250 ok")
		case "RCPT":
			if f.rcptCode != 0 {
				reply("%d no such user", f.rcptCode)
				continue
			}
			m.to = append(m.to, arg)
			reply("250 ok")
		case "DATA":
			reply("354 go ahead")
			b, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			m.data = string(b)
			f.mu.Lock()
			f.msgs = append(f.msgs, m)
			f.mu.Unlock()
			reply("250 queued")
		case "RSET", "NOOP":
			reply("250 ok")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}

// testTLS returns a server config with a self-signed certificate for 127.0.0.1 and a client
// config trusting it.
func testTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

func smtpConfig(addr, security string, to ...string) *Config {
	c := testConfig()
	c.SMTPAddr, c.SMTPTLS, c.SMTPFrom, c.SMTPTo = addr, security, "Kale <kale@example.com>", to
	return c
}

func newTestSMTP(t *testing.T, c *Config, clientTLS *tls.Config) *SMTP {
	t.Helper()
	s, err := NewSMTP(c)
	require.NoError(t, err)
	s.tlsConfig = clientTLS
	s.timeout = 5 * time.Second
	return s
}

// parsed is a received alert mail, decoded.
type parsed struct {
	header     mail.Header
	subject    string
	text, html string
}

func parseMail(t *testing.T, data string) parsed {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(data))
	require.NoError(t, err)
	p := parsed{header: msg.Header}
	p.subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	require.NoError(t, err)
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", mt)
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		b, err := io.ReadAll(part)
		require.NoError(t, err)
		switch ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type")); ct {
		case "text/plain":
			p.text = string(b)
		case "text/html":
			p.html = string(b)
		}
	}
	return p
}

func TestSMTPPlain(t *testing.T) {
	f := startSMTP(t, &fakeSMTP{})
	s := newTestSMTP(t, smtpConfig(f.addr(), "none", "skyline=abe@example.com", "you@example.com", "other=c@example.com"), nil)
	require.NoError(t, s.Send(context.Background(), rule("skyline", "smtp", 1800), testAnomaly))

	msgs := f.messages()
	require.Len(t, msgs, 1)
	m := msgs[0]
	require.False(t, m.tls)
	require.Equal(t, "FROM:<kale@example.com>", m.from)
	require.Equal(t, []string{"TO:<abe@example.com>", "TO:<you@example.com>"}, m.to)

	p := parseMail(t, m.data)
	require.Equal(t, "[skyline alert] skyline.horizon.queue_size", p.subject)
	require.Equal(t, `"Kale" <kale@example.com>`, p.header.Get("From"))
	require.Equal(t, "<abe@example.com>, <you@example.com>", p.header.Get("To"))
	require.Equal(t, "auto-generated", p.header.Get("Auto-Submitted"))
	require.NotEmpty(t, p.header.Get("Message-Id"))
	_, err := p.header.Date()
	require.NoError(t, err)
	link := "http://graphite.example/render/?width=1400&from=-1hour&target=skyline.horizon.queue_size"
	for _, want := range []string{"Anomalous value: 12.5", "Next alert in: 1800 seconds", "Triggered: grubbs, ks_test", "Graph: " + link} {
		require.Contains(t, p.text, want)
	}
	htmlLink := strings.ReplaceAll(link, "&", "&amp;")
	for _, want := range []string{"Anomalous value: 12.5<br>", "Next alert in: 1800 seconds", `<a href="` + htmlLink + `"><img src="` + htmlLink + `"`} {
		require.Contains(t, p.html, want)
	}
}

func TestSMTPRecipients(t *testing.T) {
	s := newTestSMTP(t, smtpConfig("127.0.0.1:25", "none", "skyline=a@example.com", "b@example.com", "other=c@example.com",
		"skyline=A@example.com", "tag=x=d@example.com"), nil)
	for pattern, want := range map[string][]string{
		"skyline": {"a@example.com", "b@example.com"},
		"other":   {"b@example.com", "c@example.com"},
		"tag=x":   {"b@example.com", "d@example.com"},
		"none":    {"b@example.com"},
	} {
		require.Equal(t, want, s.Recipients(pattern), pattern)
	}
	s = newTestSMTP(t, smtpConfig("127.0.0.1:25", "none", "skyline=a@example.com"), nil)
	require.NoError(t, s.CheckRule(rule("skyline", "smtp", 60)))
	require.ErrorContains(t, s.CheckRule(rule("horizon", "smtp", 60)), `no address for pattern "horizon"`)
	err := s.Send(context.Background(), rule("horizon", "smtp", 60), testAnomaly)
	require.ErrorIs(t, err, ErrPermanent)
}

func TestSMTPHeaderInjection(t *testing.T) {
	f := startSMTP(t, &fakeSMTP{})
	s := newTestSMTP(t, smtpConfig(f.addr(), "none", "ops@example.com"), nil)
	a := testAnomaly
	a.Metric = "evil\r\nBcc: victim@example.com\r\n\r\n<b>x</b>.é"
	require.NoError(t, s.Send(context.Background(), rule("evil", "smtp", 60), a))
	m := f.messages()[0]
	require.Equal(t, []string{"TO:<ops@example.com>"}, m.to)
	p := parseMail(t, m.data)
	require.Empty(t, p.header.Get("Bcc"))
	require.Equal(t, "[skyline alert] evilBcc: victim@example.com<b>x</b>.é", p.subject)
	require.Contains(t, p.html, "evilBcc: victim@example.com&lt;b&gt;x&lt;/b&gt;.é")
	require.NotContains(t, p.html, "<b>x</b>")
}

func TestSMTPStartTLSAndAuth(t *testing.T) {
	serverTLS, clientTLS := testTLS(t)
	f := startSMTP(t, &fakeSMTP{tlsConf: serverTLS, user: "kale", pass: "s3cret"})
	c := smtpConfig(f.addr(), "starttls", "ops@example.com")
	c.SMTPUser, c.SMTPPassword = "kale", "s3cret"
	s := newTestSMTP(t, c, clientTLS)
	require.NoError(t, s.Send(context.Background(), rule("skyline", "smtp", 60), testAnomaly))
	m := f.messages()[0]
	require.True(t, m.tls)
	require.Equal(t, "kale", m.authed)

	// A wrong password is a permanent failure, and the error does not show the password.
	c.SMTPPassword = "wr0ng-pass"
	s = newTestSMTP(t, c, clientTLS)
	err := s.Send(context.Background(), rule("skyline", "smtp", 60), testAnomaly)
	require.ErrorIs(t, err, ErrPermanent)
	require.ErrorContains(t, err, "authenticate")
	require.NotContains(t, err.Error(), "wr0ng-pass")
}

func TestSMTPImplicitTLS(t *testing.T) {
	serverTLS, clientTLS := testTLS(t)
	f := startSMTP(t, &fakeSMTP{tlsConf: serverTLS, implicit: true})
	s := newTestSMTP(t, smtpConfig(f.addr(), "tls", "ops@example.com"), clientTLS)
	require.NoError(t, s.Send(context.Background(), rule("skyline", "smtp", 60), testAnomaly))
	require.True(t, f.messages()[0].tls)

	// The system roots do not trust the test certificate.
	s = newTestSMTP(t, smtpConfig(f.addr(), "tls", "ops@example.com"), nil)
	require.ErrorContains(t, s.Send(context.Background(), rule("skyline", "smtp", 60), testAnomaly), "certificate")
}

func TestSMTPRefusesAuthWithoutTLS(t *testing.T) {
	c := smtpConfig("127.0.0.1:25", "none", "ops@example.com")
	c.SMTPUser, c.SMTPPassword = "kale", "s3cret"
	_, err := NewSMTP(c)
	require.ErrorContains(t, err, "cannot authenticate to the SMTP server without TLS")
	require.NotContains(t, err.Error(), "s3cret")

	// starttls is required once chosen: a server without it gets nothing, not even MAIL.
	f := startSMTP(t, &fakeSMTP{})
	c = smtpConfig(f.addr(), "starttls", "ops@example.com")
	c.SMTPUser, c.SMTPPassword = "kale", "s3cret"
	s := newTestSMTP(t, c, nil)
	err = s.Send(context.Background(), rule("skyline", "smtp", 60), testAnomaly)
	require.ErrorIs(t, err, ErrPermanent)
	require.ErrorContains(t, err, "does not offer STARTTLS")
	require.Empty(t, f.messages())
}

func TestSMTPErrors(t *testing.T) {
	f := startSMTP(t, &fakeSMTP{rcptCode: 550})
	s := newTestSMTP(t, smtpConfig(f.addr(), "none", "ops@example.com"), nil)
	err := s.Send(context.Background(), rule("x", "smtp", 60), testAnomaly)
	require.ErrorIs(t, err, ErrPermanent, "5xx is permanent")

	f = startSMTP(t, &fakeSMTP{rcptCode: 451})
	s = newTestSMTP(t, smtpConfig(f.addr(), "none", "ops@example.com"), nil)
	err = s.Send(context.Background(), rule("x", "smtp", 60), testAnomaly)
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrPermanent, "4xx is retried")

	// A server that accepts but never greets: Send ends at its context's deadline.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Go(func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = io.Copy(io.Discard, c)
			_ = c.Close()
		}
	})
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	s = newTestSMTP(t, smtpConfig(ln.Addr().String(), "none", "ops@example.com"), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	require.Error(t, s.Send(ctx, rule("x", "smtp", 60), testAnomaly))
	require.Less(t, time.Since(t0), 2*time.Second)

	for _, bad := range []struct{ to, want string }{
		{"=a@example.com", "empty pattern"},
		{"x=not an address", `cannot parse --alert-smtp-to entry "x=not an address"`},
		{"a@example.com\r\nBcc: b@example.com", "cannot parse --alert-smtp-to entry"},
	} {
		_, err := NewSMTP(smtpConfig("127.0.0.1:25", "none", bad.to))
		require.ErrorContains(t, err, bad.want, fmt.Sprintf("%q", bad.to))
	}
}
