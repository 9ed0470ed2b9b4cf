// Package e2e holds Wallcast's end-to-end tests: they start the real
// binary (built from cmd/wallcast) or a node through internal/app, with
// real SQLite files, NATS, nginx and Chromium where the tests name them,
// and drive them as screens, webhook senders, consoles and operators do.
package e2e
