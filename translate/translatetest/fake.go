// Package translatetest is a fake LibreTranslate server for tests.
package translatetest

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// sample is an answer in the real server's format (its documented
// translatedText and detectedLanguage).
//
//go:embed testdata/translate-es-en.json
var sample []byte

// Fake speaks LibreTranslate's /translate: it checks the
// request as the real server reads it (JSON, q, source auto, target,
// format html, api_key) and answers in its format. A text that starts
// with a language code and a colon ("es: …") is detected as that
// language; "fail" answers 500 with LibreTranslate's error body; "busy"
// answers 429; "evil" answers with a script in the translation.
type Fake struct {
	Key   string // the api_key it takes ("" for none)
	Calls atomic.Int64
	mu    sync.Mutex
	asked []string // target|q
}

// Asked are the requests it took: "target|q".
func (f *Fake) Asked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.asked...)
}

func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.Calls.Add(1)
	var req struct {
		Q, Source, Target, Format string
		APIKey                    string `json:"api_key"`
	}
	if r.URL.Path != "/translate" || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, `{"error": "not found"}`, 404)
		return
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Source != "auto" || req.Format != "html" || req.Target == "" {
		w.WriteHeader(400)
		json.NewEncoder(w).Encode(map[string]string{"error": "Invalid request: missing q, source or target parameter"})
		return
	}
	if req.APIKey != f.Key {
		w.WriteHeader(403)
		json.NewEncoder(w).Encode(map[string]string{"error": "Invalid API key"})
		return
	}
	f.mu.Lock()
	f.asked = append(f.asked, req.Target+"|"+req.Q)
	f.mu.Unlock()
	plain := strings.TrimSuffix(strings.TrimPrefix(req.Q, "<p>"), "</p>")
	from, text, _ := strings.Cut(plain, ": ")
	switch from {
	case "fail":
		w.WriteHeader(500)
		json.NewEncoder(w).Encode(map[string]string{"error": "Cannot translate text: model not loaded"})
		return
	case "busy":
		w.WriteHeader(429)
		json.NewEncoder(w).Encode(map[string]string{"error": "Slowdown: 60 per 1 minute"})
		return
	case "evil":
		json.NewEncoder(w).Encode(map[string]any{"translatedText": `<p>nice<script>alert(1)</script><img src=x onerror=alert(2)></p>`, "detectedLanguage": map[string]any{"confidence": 90, "language": "es"}})
		return
	case "sample":
		w.Write(sample)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{
		"translatedText":   "<p>[" + req.Target + "] " + text + "</p>",
		"detectedLanguage": map[string]any{"confidence": 90.0, "language": from},
	})
}

// Start runs a fake that takes key, until the test ends.
func Start(t testing.TB, key string) (*Fake, *httptest.Server) {
	f := &Fake{Key: key}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}
