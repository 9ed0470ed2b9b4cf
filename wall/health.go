package wall

import "time"

// SourceHealth is what the server knows of one source.
type SourceHealth struct {
	Name     string    `json:"name"`
	Type     string    `json:"type"`
	State    string    `json:"state"` // starting, connected, polling, backoff, error, stopped
	LastPost time.Time `json:"last_post,omitzero"`
	// LastError has no secrets (no query strings, credentials); the admin
	// console shows it. PublicError also leaves out upstream response
	// bodies: /stats and /dashboard, open to anyone, show that one.
	LastError   string    `json:"last_error,omitempty"`
	PublicError string    `json:"-"`
	ErrorAt     time.Time `json:"error_at,omitzero"`
	Errors      int64     `json:"errors"`
	NextRetry   time.Time `json:"next_retry,omitzero"`
}
