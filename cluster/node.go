// Package cluster carries every wall's events beyond one machine on NATS
// JetStream: the ingest node publishes them through an outbox (its own
// event log and how far the stream acknowledged it), and edges serve
// screens from the stream. A wall is a subject of one stream; a key-value
// bucket holds what a new edge needs to start (each wall's snapshot, the
// walls themselves). No cluster protocol of Wallcast's own: NATS does it.
//
// It uses nothing newer than NATS Server 2.9's JetStream (the version
// Debian packages): limits per subject, message-id deduplication,
// expected-last-sequence, ordered pull consumers and key-value buckets.
package cluster

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wallcast/wallcast/config"
)

// Message headers of a wall event on the stream.
const (
	hdrSeq  = "Wallcast-Seq"  // the event's id, the SSE id on every node
	hdrPrev = "Wallcast-Prev" // the id of the wall's display event before it (0: none)
	hdrType = "Wallcast-Type" // the SSE event type
)

// Keys of the bucket.
const (
	keyWalls = "walls" // the ingest node's walls (JSON of []config.Wall)
	keySnap  = "snap." // + slug: a wall's snapshot
)

// Node is this process's link to NATS: the connection, its JetStream,
// and an embedded server where the config asks for one.
type Node struct {
	cfg  *config.Cluster
	nc   *nats.Conn
	js   jetstream.JetStream
	srv  *server.Server // embedded; nil otherwise
	log  *slog.Logger
	down atomic.Int64 // unix nanoseconds since NATS is unreachable; 0: connected
}

// Start connects to the cluster's NATS. With embedded true and an
// embedded server configured, it first starts that server in this
// process (the ingest node). The connection keeps retrying in the
// background: NATS need not be up for Start to return.
func Start(cfg *config.Config, name string, embedded bool, log *slog.Logger) (*Node, error) {
	cl := cfg.Cluster
	n := &Node{cfg: cl, log: log}
	n.down.Store(time.Now().UnixNano())
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.RetryOnFailedConnect(true),
		nats.ConnectHandler(n.up),
		nats.ReconnectHandler(n.up),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			n.down.CompareAndSwap(0, time.Now().UnixNano())
			log.Warn("cluster: NATS connection lost", "err", err)
		}),
	}
	urls := strings.Join(cl.NATS, ",")
	if e := cl.Embedded; e != nil && embedded {
		// The ingest node's own user has every right; it connects in
		// process, so with no password set it makes one nobody else knows.
		user, password := ingestUser(cl), cl.Password
		if password == "" {
			password = rand.Text()
		}
		srv, err := startEmbedded(cfg.File, cl, user, password)
		if err != nil {
			return nil, err
		}
		n.srv = srv
		opts = append(opts, nats.InProcessServer(srv), nats.UserInfo(user, password))
		log.Info("cluster: embedded NATS running", "listen", e.Listen, "dir", config.Resolve(cfg.File, e.Dir), "edges", e.EdgePassword != "", "tls", cl.TLS != nil)
		if host, _, _ := net.SplitHostPort(e.Listen); cl.TLS == nil && !config.Loopback(host) {
			log.Warn("cluster: the embedded NATS takes plain TCP from other machines; add cluster.tls: {cert, key, ca} to encrypt the links", "listen", e.Listen)
		}
	} else {
		if urls == "" && cl.Embedded != nil {
			_, port, _ := net.SplitHostPort(cl.Embedded.Listen)
			urls = "nats://127.0.0.1:" + port
		}
		opts = append(opts, clientAuth(cfg.File, cl)...)
	}
	nc, err := nats.Connect(urls, opts...)
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("cluster: connect %s: %w", urls, err)
	}
	n.nc = nc
	if nc.IsConnected() {
		n.up(nc)
	}
	n.js, err = jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(1024))
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return n, nil
}

func (n *Node) up(nc *nats.Conn) {
	if since := n.down.Swap(0); since != 0 {
		n.log.Info("cluster: NATS connected", "url", nc.ConnectedUrlRedacted(), "after", time.Since(time.Unix(0, since)).Round(time.Millisecond))
	}
}

// ingestUser is the ingest node's user on its embedded server.
func ingestUser(cl *config.Cluster) string {
	if cl.User != "" {
		return cl.User
	}
	return "wallcast"
}

// clientAuth are the options a process that connects over the network
// proves itself and checks the server with: a .creds file, a user and
// password, or (an edge of an embedded server) the user edge; and TLS.
func clientAuth(file string, cl *config.Cluster) []nats.Option {
	var opts []nats.Option
	switch {
	case cl.Credentials != "":
		opts = append(opts, nats.UserCredentials(config.Resolve(file, cl.Credentials)))
	case cl.Embedded != nil && cl.Embedded.EdgePassword != "":
		opts = append(opts, nats.UserInfo(config.EdgeUser, cl.Embedded.EdgePassword))
	case cl.Password != "":
		opts = append(opts, nats.UserInfo(cl.User, cl.Password))
	}
	if t := cl.TLS; t != nil {
		if t.CA != "" {
			opts = append(opts, nats.RootCAs(config.Resolve(file, t.CA)))
		}
		if t.Cert != "" && cl.Embedded == nil {
			opts = append(opts, nats.ClientCert(config.Resolve(file, t.Cert), config.Resolve(file, t.Key)))
		}
		if t.CA == "" && t.Cert == "" {
			opts = append(opts, nats.Secure(&tls.Config{MinVersion: tls.VersionTLS12}))
		}
	}
	return opts
}

// EdgePermissions are what the user edge may do on NATS: read the stream
// (ordered consumers) and the bucket (a watch), and publish screen
// reports on the tally subject. Nothing else: no message on a wall's
// subject, no key in the bucket, no change to the stream. An operator of
// an external NATS gives edges the same (deploy/nats/nats-server.conf).
func EdgePermissions(stream string) *server.Permissions {
	kv := "KV_" + stream + "-walls"
	var pub []string
	for _, st := range []string{stream, kv} {
		pub = append(pub,
			"$JS.API.STREAM.INFO."+st,
			"$JS.API.CONSUMER.CREATE."+st, "$JS.API.CONSUMER.CREATE."+st+".>",
			"$JS.API.CONSUMER.INFO."+st+".*",
			"$JS.API.CONSUMER.DELETE."+st+".*",
			"$JS.API.CONSUMER.MSG.NEXT."+st+".*",
			"$JS.FC."+st+".>",
		)
	}
	pub = append(pub, "$JS.API.INFO", stream+".tally")
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
	}
}

// startEmbedded runs a NATS server with JetStream in this process. It
// knows the ingest node's user and, with an edge password, the user edge.
func startEmbedded(file string, cl *config.Cluster, user, password string) (*server.Server, error) {
	e := cl.Embedded
	host, port, _ := net.SplitHostPort(e.Listen)
	p, _ := strconv.Atoi(port)
	users := []*server.User{{Username: user, Password: password}}
	if e.EdgePassword != "" {
		users = append(users, &server.User{Username: config.EdgeUser, Password: e.EdgePassword, Permissions: EdgePermissions(cl.Stream)})
	}
	opts := &server.Options{
		ServerName: "wallcast",
		Host:       host,
		Port:       p,
		JetStream:  true,
		StoreDir:   config.Resolve(file, e.Dir),
		NoSigs:     true,
		NoLog:      true,
		Users:      users,
		MaxPayload: 1 << 20,
	}
	if t := cl.TLS; t != nil {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: config.Resolve(file, t.Cert), KeyFile: config.Resolve(file, t.Key)})
		if err != nil {
			return nil, fmt.Errorf("cluster: embedded NATS TLS: %w", err)
		}
		opts.TLSConfig, opts.TLS, opts.TLSTimeout = tc, true, 2
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("cluster: embedded NATS: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("cluster: embedded NATS on %s did not start", e.Listen)
	}
	return srv, nil
}

// retry runs session until ctx ends, and again after each failure, told
// to failed, with a backoff from 250 ms doubling to 5 s (back to 250 ms
// after a session that lasted a minute).
func (n *Node) retry(ctx context.Context, session func(context.Context) error, failed func(err error, wait time.Duration)) {
	wait := 250 * time.Millisecond
	for {
		began := time.Now()
		err := session(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(began) > time.Minute {
			wait = 250 * time.Millisecond
		}
		failed(err, wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// Down says since when NATS is unreachable (zero: it is reachable).
func (n *Node) Down() time.Time {
	if v := n.down.Load(); v != 0 {
		return time.Unix(0, v)
	}
	return time.Time{}
}

// ConnectedURL is the NATS server this node is connected to ("" none).
func (n *Node) ConnectedURL() string { return n.nc.ConnectedUrl() }

// Close closes the connection and stops an embedded server.
func (n *Node) Close() {
	if n.nc != nil {
		n.nc.Close()
	}
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
}

// subject is a wall's subject on the stream.
func (n *Node) subject(slug string) string { return n.cfg.Stream + ".wall." + slug }

// wallOf is the wall of a subject ("" when it is none of ours).
func (n *Node) wallOf(subject string) string {
	slug, ok := strings.CutPrefix(subject, n.cfg.Stream+".wall.")
	if !ok {
		return ""
	}
	return slug
}

// tallySubject carries the edges' screen reports to the ingest node
// (core NATS, not the stream).
func (n *Node) tallySubject() string { return n.cfg.Stream + ".tally" }

// bucket is the key-value bucket's name.
func (n *Node) bucket() string { return n.cfg.Stream + "-walls" }

// setUp creates or updates the stream and the bucket (the ingest node).
func (n *Node) setUp(ctx context.Context) (jetstream.Stream, jetstream.KeyValue, error) {
	st, err := n.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              n.cfg.Stream,
		Description:       "Wallcast: every wall's display events, one subject per wall",
		Subjects:          []string{n.cfg.Stream + ".wall.*"},
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: int64(n.cfg.Window),
		MaxAge:            n.cfg.MaxAge.D(),
		Replicas:          n.cfg.Replicas,
		Storage:           jetstream.FileStorage,
		Duplicates:        min(2*time.Minute, n.cfg.MaxAge.D()),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("stream %s: %w", n.cfg.Stream, err)
	}
	kv, err := n.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      n.bucket(),
		Description: "Wallcast: the walls, and each wall's snapshot for edges that start",
		History:     1,
		Replicas:    n.cfg.Replicas,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("bucket %s: %w", n.bucket(), err)
	}
	return st, kv, nil
}
