package wall

import "time"

// State is where a source stands.
type State string

// The states of a source.
const (
	StateStarting  State = "starting"
	StateRunning   State = "running" // started; the adapter has not said more yet
	StateConnected State = "connected"
	StatePolling   State = "polling"
	StateBackoff   State = "backoff" // failed; restarts at NextRetry
	StateError     State = "error"   // stopped until the config is fixed
	StateStopped   State = "stopped"
)

// SourceHealth is what the server knows of one source.
type SourceHealth struct {
	Name     string    `json:"name"`
	Type     string    `json:"type"`
	State    State     `json:"state"`
	Note     string    `json:"note,omitempty"` // what the adapter adds to its state
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

// EndpointHealth is the state of an outbound endpoint: the system told of
// the walls' events (config outbound).
type EndpointHealth struct {
	Name  string `json:"name"`
	Host  string `json:"host"`  // of its URL: no path, no query
	State string `json:"state"` // ok, retrying, or idle (nothing sent yet)
	// Delivered counts the events it took since the start; Failed those
	// given up on after a day of retries, ever; Behind the events of the
	// log it has not been through yet (of any kind: most may not be its).
	Delivered int64 `json:"delivered"`
	Failed    int   `json:"failed"`
	Behind    int64 `json:"behind"`
	// Attempts are the tries of the event it is on, while it retries.
	Attempts    int       `json:"attempts,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	NextRetry   time.Time `json:"next_retry,omitzero"`
}
