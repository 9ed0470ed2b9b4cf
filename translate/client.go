package translate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Client speaks LibreTranslate's API: POST /translate with q, source,
// target, format and api_key as JSON; the answer is translatedText and,
// for source auto, detectedLanguage.
type Client struct {
	URL    string // the server's base URL
	APIKey string // "" for a server that asks none
	HTTP   *http.Client
}

// request is LibreTranslate's /translate body.
type request struct {
	Q      string `json:"q"`
	Source string `json:"source"`
	Target string `json:"target"`
	Format string `json:"format"`
	APIKey string `json:"api_key,omitempty"`
}

// answer is LibreTranslate's /translate answer (or its error).
type answer struct {
	TranslatedText   *string `json:"translatedText"`
	DetectedLanguage *struct {
		Confidence float64 `json:"confidence"`
		Language   string  `json:"language"`
	} `json:"detectedLanguage"`
	Error string `json:"error"`
}

// ErrBusy is a server that asks to slow down (429): the post waits.
var ErrBusy = errors.New("the translation server asks to slow down (429)")

// Translate translates HTML into target, the source language detected by
// the server; from is what it detected ("" when it says nothing).
func (c *Client) Translate(ctx context.Context, html, target string) (out, from string, err error) {
	body, _ := json.Marshal(request{Q: html, Source: "auto", Target: target, Format: "html", APIKey: c.APIKey})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.URL, "/")+"/translate", bytes.NewReader(body))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", "", ctx.Err()
		}
		return "", "", errors.New("cannot reach the translation server")
	}
	defer resp.Body.Close()
	var a answer
	derr := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&a)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return "", "", ErrBusy
	case resp.StatusCode != http.StatusOK:
		msg := a.Error
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		return "", "", fmt.Errorf("HTTP %d: %s", resp.StatusCode, firstLine(msg))
	case derr != nil || a.TranslatedText == nil:
		return "", "", errors.New(`the answer is not {"translatedText": …}`)
	}
	if a.DetectedLanguage != nil {
		from = a.DetectedLanguage.Language
	}
	return *a.TranslatedText, from, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
