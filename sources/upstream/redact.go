package upstream

import (
	"net/url"
	"regexp"
	"strings"
)

var (
	urlInText   = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>]+`)
	secretPair  = regexp.MustCompile(`(?i)\b(access_token|token|secret|client_secret|password|app_password|api_key|key|sig|signature)=[^&\s"']+`)
	bearerToken = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+`)
	statusBody  = regexp.MustCompile(`(HTTP \d{3}): .*$`)
)

// Redact removes what must not leave the server from an error message: the
// query strings, user info and fragments of URLs (API keys travel there),
// key=value pairs that name secrets, and Authorization credentials. What
// is left still says what failed and where.
func Redact(msg string) string {
	msg = urlInText.ReplaceAllStringFunc(msg, func(raw string) string {
		// Punctuation at the end belongs to the sentence, not the URL.
		trimmed := strings.TrimRight(raw, ":,.;)]")
		tail := raw[len(trimmed):]
		u, err := url.Parse(trimmed)
		if err != nil {
			return "[url]" + tail
		}
		q := u.RawQuery != "" || u.ForceQuery
		u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
		s := u.String()
		if q {
			s += "?…"
		}
		return s + tail
	})
	msg = secretPair.ReplaceAllString(msg, "$1=…")
	return bearerToken.ReplaceAllString(msg, "$1 …")
}

// Public is Redact, and also leaves out what an upstream's error response
// said (its body may quote the request): for pages anyone can open.
func Public(msg string) string {
	return statusBody.ReplaceAllString(Redact(msg), "$1")
}
