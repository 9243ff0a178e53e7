package alert

// Config holds the channels' settings; utils/cmd/kale maps the --alert-* options and
// --graph-url onto it. A channel whose required option is empty is not configured.
type Config struct {
	WebhookURL   string   // --alert-webhook-url (secret: its path and query are never shown)
	SlackURL     string   // --alert-slack-url (secret)
	SMTPAddr     string   // --alert-smtp-addr, host:port
	SMTPFrom     string   // --alert-smtp-from
	SMTPTo       []string // --alert-smtp-to: pattern=address or address entries
	SMTPUser     string   // --alert-smtp-user
	SMTPPassword string   // --alert-smtp-password (secret)
	SMTPTLS      string   // --alert-smtp-tls: starttls, tls or none
	PagerDutyKey string   // --alert-pagerduty-key (secret)
	PagerDutyURL string   // --alert-pagerduty-url
	GraphURL     string   // --graph-url: %s becomes the metric name
}

// DefaultConfig returns the defaults of the --alert-* options.
func DefaultConfig() *Config {
	return &Config{
		SMTPAddr:     "127.0.0.1:25",
		SMTPFrom:     "kale-alerts@localhost",
		SMTPTLS:      "starttls",
		PagerDutyURL: "https://events.pagerduty.com/v2/enqueue",
	}
}
