package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wallcast/wallcast/wall"
	"github.com/wallcast/wallcast/wordlist"
	"go.yaml.in/yaml/v3"
)

// Error is one problem in a config file, with where it is and how to fix it.
type Error struct {
	File string
	Line int
	Msg  string
	Fix  string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	if e.Fix != "" {
		s += "; fix: " + e.Fix
	}
	return s
}

// Errors is every problem found in a config file.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Load reads, expands, checks and completes a config file, with the source
// types of the table given. On failure the error is an Errors that lists
// every problem found.
func Load(path string, types Types) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data, os.LookupEnv, types)
}

// LoadEdge is Load for an edge (wallcast edge): it runs no sources and no
// console, so their settings are not checked and their secrets need not
// be set there.
func LoadEdge(path string, types Types) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parse(path, data, os.LookupEnv, types, true)
}

// Parse is Load on bytes already read; lookup resolves ${VAR}.
func Parse(file string, data []byte, lookup func(string) (string, bool), types Types) (*Config, error) {
	return parse(file, data, lookup, types, false)
}

func parse(file string, data []byte, lookup func(string) (string, bool), types Types, edge bool) (*Config, error) {
	p := &parser{file: file, lookup: lookup, lines: map[string]int{}, types: types, secrets: map[string]bool{}, edge: edge}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		line := 1
		var m = regexp.MustCompile(`line (\d+)`).FindStringSubmatch(err.Error())
		if m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		return nil, Errors{{File: file, Line: line, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), Fix: "check the indentation and quoting on that line"}}
	}
	if len(doc.Content) == 0 {
		return nil, Errors{{File: file, Line: 1, Msg: "the file is empty", Fix: "start from the config.yaml shipped with Wallcast"}}
	}
	root := doc.Content[0]
	p.walk(root, reflect.TypeOf(Config{}), "")
	var c Config
	if err := root.Decode(&c); err != nil {
		if len(p.errs) > 0 {
			return nil, p.sorted()
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, msg := range te.Errors {
				p.add(lineOf(msg), strings.TrimSpace(msg[strings.Index(msg, ":")+1:]), "give a value of the expected type")
			}
			return nil, p.sorted()
		}
		return nil, Errors{{File: file, Line: 1, Msg: err.Error()}}
	}
	c.File = file
	for i := range c.Sources {
		s := &c.Sources[i]
		s.Line = p.line(fmt.Sprintf("sources[%d]", i))
		st, ok := types[s.Type]
		if !ok {
			continue // validate says so
		}
		// The type's own keys go into its settings (the keys every source
		// takes are not fields there, and are skipped).
		s.Settings = st.Settings()
		if err := p.sourceNodes[i].Decode(s.Settings); err != nil {
			var te *yaml.TypeError
			if errors.As(err, &te) {
				for _, msg := range te.Errors {
					p.add(lineOf(msg), strings.TrimSpace(msg[strings.Index(msg, ":")+1:]), "give a value of the expected type")
				}
			}
			return nil, p.sorted()
		}
		if st.StallTimeout > 0 && s.StallTimeout == 0 {
			s.StallTimeout = Duration(st.StallTimeout)
		}
		s.AllPosts = s.AllPosts || st.AllPosts
		if pf, ok := s.Settings.(PeopleFollower); ok {
			s.People = pf.FollowsPeople()
		}
	}
	c.defaults()
	p.feeds(&c)
	p.validate(&c)
	if len(p.errs) > 0 {
		return nil, p.sorted()
	}
	return &c, nil
}

func lineOf(msg string) int {
	var n int
	fmt.Sscanf(msg, "line %d:", &n)
	return n
}

type parser struct {
	file   string
	lookup func(string) (string, bool)
	lines  map[string]int // path -> line
	errs   Errors
	types  Types
	// secrets are the paths of secret keys.
	secrets map[string]bool
	// sourceNodes are the sources' mappings, for their types to decode.
	sourceNodes []*yaml.Node
	// edge leaves out the checks of what an edge does not run.
	edge bool
}

var sourceType = reflect.TypeOf(Source{})

func (p *parser) add(line int, msg, fix string) {
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: msg, Fix: fix})
}

func (p *parser) sorted() Errors {
	sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
	return p.errs
}

// line returns the line of a path such as "walls[0].sources[1]", or of its
// nearest parent that has one.
func (p *parser) line(path string) int {
	for path != "" {
		if l, ok := p.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 1
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// secretRef is the only form a secret's value may take.
var secretRef = regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*\}$`)

var durationType = reflect.TypeOf(Duration(0))
var rateType = reflect.TypeOf(Rate{})

// walk checks a node against the Go type it will decode into: it refuses
// unknown keys, expands ${VAR} in scalars, checks durations, and records the
// line of every path for the checks that follow decoding.
func (p *parser) walk(n *yaml.Node, t reflect.Type, path string) {
	if path != "" {
		p.lines[path] = n.Line
	}
	switch {
	case t.Kind() == reflect.Pointer:
		p.walk(n, t.Elem(), path)
	case t == durationType:
		if n.Kind != yaml.ScalarNode {
			p.add(n.Line, fmt.Sprintf("%s: expected a duration", path), `write a Go duration such as "30s", "5m" or "720h"`)
			return
		}
		p.expand(n, path)
		if d, err := time.ParseDuration(n.Value); err != nil || d < 0 {
			p.add(n.Line, fmt.Sprintf("%s: %q is not a duration", path, n.Value), `write a Go duration such as "30s", "5m" or "720h"`)
		}
	case t == rateType:
		if n.Kind != yaml.ScalarNode {
			p.add(n.Line, fmt.Sprintf("%s: expected a rate", path), `write posts per time, such as "3/10m"`)
			return
		}
		p.expand(n, path)
		var r Rate
		if err := r.UnmarshalYAML(n); err != nil {
			p.add(n.Line, fmt.Sprintf("%s: %q is not a rate", path, n.Value), `write posts per time, such as "3/10m"`)
		}
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if n.Tag == "!!null" {
				return
			}
			p.add(n.Line, fmt.Sprintf("%s: expected a mapping of keys", path), "indent the keys under it")
			return
		}
		fields := yamlFields(t)
		var own map[string]reflect.StructField // a source's type keys
		typ := ""
		if t == sourceType {
			p.sourceNodes = append(p.sourceNodes, n)
			typ = scalar(n, "type")
			if st, ok := p.types[typ]; ok {
				own = yamlFields(reflect.TypeOf(st.Settings()).Elem())
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fields[k.Value]
			if !ok && own != nil {
				f, ok = own[k.Value]
			}
			sub := k.Value
			if path != "" {
				sub = path + "." + k.Value
			}
			if !ok && t == sourceType {
				if own != nil { // an unknown type is reported once, by validate
					all := append(keysOf(fields), keysOf(own)...)
					sort.Strings(all)
					p.add(k.Line, fmt.Sprintf("%s: not a key of %s sources", sub, typ), fmt.Sprintf("remove it; %s sources take: %s", typ, strings.Join(all, ", ")))
				}
				continue
			}
			if !ok {
				p.add(k.Line, fmt.Sprintf("%s: unknown key", sub), suggest(k.Value, keysOf(fields)))
				continue
			}
			// A secret is exactly one ${VAR}: a default (${VAR:-literal})
			// or text around the reference would put it in the file.
			if f.Tag.Get("config") == "secret" && v.Kind == yaml.ScalarNode && v.Value != "" && !secretRef.MatchString(v.Value) {
				p.add(v.Line, fmt.Sprintf("%s: a secret is written in the file", sub),
					fmt.Sprintf("put it in an environment variable and write %s: \"${WALLCAST_%s}\" (no default, nothing around it)", k.Value, strings.ToUpper(k.Value)))
				continue
			}
			p.lines[sub] = k.Line
			if f.Tag.Get("config") == "secret" {
				p.secrets[sub] = true
			}
			p.walk(v, f.Type, sub)
		}
	case t.Kind() == reflect.Slice:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return
		}
		if n.Kind != yaml.SequenceNode {
			p.add(n.Line, fmt.Sprintf("%s: expected a list", path), "write a list, for example [a, b] or one '- item' per line")
			return
		}
		for i, c := range n.Content {
			p.walk(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		if n.Kind != yaml.ScalarNode {
			p.add(n.Line, fmt.Sprintf("%s: expected a single value", path), "write a value, not a list or mapping")
			return
		}
		p.expand(n, path)
	}
}

// expand replaces ${VAR} and ${VAR:-default} in a scalar.
func (p *parser) expand(n *yaml.Node, path string) {
	if !strings.Contains(n.Value, "${") {
		return
	}
	n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
		m := envRef.FindStringSubmatch(ref)
		if v, ok := p.lookup(m[1]); ok && v != "" {
			return v
		}
		if m[2] != "" {
			return m[3]
		}
		// An unset secret is an empty one: the feature it unlocks stays
		// off (nobody logs in without a password hash), and each type's
		// check says when a secret is required.
		if p.secrets[path] {
			return ""
		}
		p.add(n.Line, fmt.Sprintf("%s: environment variable %s is not set", path, m[1]),
			fmt.Sprintf("export %s before starting, or write ${%s:-default}", m[1], m[1]))
		return ""
	})
	// Let YAML type the expanded value, so "${PORT}" can fill a number.
	n.Tag, n.Style = "", 0
}

func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		out[name] = f
	}
	return out
}

func keysOf(m map[string]reflect.StructField) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// suggest proposes the closest known key.
func suggest(bad string, known []string) string {
	best, bestD := "", 4
	for _, k := range known {
		if d := distance(bad, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q? (known keys: %s)", best, strings.Join(known, ", "))
	}
	return "remove it; known keys: " + strings.Join(known, ", ")
}

// distance is the Levenshtein distance between two short strings.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// langRe is a language code as LibreTranslate takes it: en, pt, zh-Hans.
var langRe = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z]{2,4})?$`)

var nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// validate checks what the schema alone cannot.
func (p *parser) validate(c *Config) {
	p.server(&c.Server)
	p.admin(&c.Admin)
	sources := p.sources(c.Sources)
	walls := map[string]int{}
	for i := range c.Walls {
		p.wall(c, i, walls, sources)
	}
	p.filters(c.Filters.WordLists, c.Filters.HoldIf, "filters")
	if cl := c.Moderation.Classifier; cl != nil {
		p.classifier(cl)
	}
	if cl := c.Cluster; cl != nil {
		p.cluster(cl)
	}
	p.outbound(c)
	if tr := c.Translation; tr != nil {
		if !HTTPURL(tr.URL) {
			p.add(p.line("translation.url"), "translation.url must be the http(s) address of a LibreTranslate server", `write url: "http://127.0.0.1:5000"`)
		}
		between(p, "translation.per_minute", tr.PerMinute, 1, 100000, "write per_minute: 60 (requests a minute; one per post and language)")
		between(p, "translation.concurrency", tr.Concurrency, 1, 32, "write concurrency: 2")
		if d := tr.Timeout.D(); d < time.Second || d > 2*time.Minute {
			p.add(p.line("translation.timeout"), "translation.timeout must be between 1s and 2m", "write timeout: 10s")
		}
	}
	for i, w := range c.Walls {
		at := fmt.Sprintf("walls[%d].display.translate_to", i)
		if len(w.Display.TranslateTo) > 0 && c.Translation == nil {
			p.add(p.line(at), at+": translating needs a translation server", `add translation: {url: "http://127.0.0.1:5000"} at the top level (LibreTranslate)`)
		}
		for j, l := range w.Display.TranslateTo {
			if !langRe.MatchString(l) {
				p.add(p.line(fmt.Sprintf("%s[%d]", at, j)), fmt.Sprintf("%s[%d]: %q is not a language code", at, j, l), "write a code such as en, fr, es, pt or zh")
			}
		}
	}
	if len(c.Walls) == 0 {
		p.add(p.line("walls"), "no walls are defined", "add a wall under walls: with a slug, hashtags and sources")
	}
}

// feeds adds each source that names the walls it posts to (a Feeder, such
// as uploads' walls) to those walls' sources.
func (p *parser) feeds(c *Config) {
	for i, src := range c.Sources {
		f, ok := src.Settings.(Feeder)
		if !ok {
			continue
		}
		for j, slug := range f.Feeds() {
			w := c.Wall(slug)
			if w == nil {
				at := fmt.Sprintf("sources[%d].walls[%d]", i, j)
				p.add(p.line(at), fmt.Sprintf("%s: no wall %q", at, slug), "use the slug of a wall of this file")
				continue
			}
			if !slices.Contains(w.Sources, src.Name) {
				w.Sources = append(w.Sources, src.Name)
			}
		}
	}
}

// outbound checks the endpoints told of the walls' events.
func (p *parser) outbound(c *Config) {
	names := map[string]bool{}
	for i, o := range c.Outbound {
		at := fmt.Sprintf("outbound[%d]", i)
		if !nameRe.MatchString(o.Name) {
			p.add(p.line(at+".name"), at+": every endpoint needs a name (lower case, digits, - and _): the console, /stats and its queue know it by it", `write name: cms`)
		} else if names[o.Name] {
			p.add(p.line(at+".name"), fmt.Sprintf("%s: the name %q is taken by another endpoint", at, o.Name), "give each endpoint its own name")
		}
		names[o.Name] = true
		if !HTTPURL(o.URL) {
			p.add(p.line(at+".url"), at+": url must be an http(s) URL", `write url: "https://cms.example/hooks/wallcast"`)
		}
		if o.Secret == "" {
			p.add(p.line(at+".secret"), at+": an endpoint needs a secret to sign its deliveries (the receiver checks them as Wallcast checks its own webhooks)",
				`add secret: "${WALLCAST_OUTBOUND_SECRET}" and set the variable`)
		}
		for j, e := range o.Events {
			p.oneOf(fmt.Sprintf("%s.events[%d]", at, j), e, OutboundEvents, "an event Wallcast sends", "use some of: "+strings.Join(OutboundEvents, ", "))
		}
		for j, w := range o.Walls {
			if c.Wall(w) == nil {
				p.add(p.line(fmt.Sprintf("%s.walls[%d]", at, j)), fmt.Sprintf("%s.walls[%d]: no wall %q", at, j, w), "use the slug of a wall of this file")
			}
		}
		if d := o.Timeout.D(); d < time.Second || d > 2*time.Minute {
			p.add(p.line(at+".timeout"), at+": timeout must be between 1s and 2m", "write timeout: 10s")
		}
	}
}

// oneOf checks that the value at a path is one of choices; what names
// the kind of value ("a layout"), fix says what to write.
func (p *parser) oneOf(at, v string, choices []string, what, fix string) {
	if !slices.Contains(choices, v) {
		p.add(p.line(at), fmt.Sprintf("%s: %q is not %s", at, v, what), fix)
	}
}

// between checks that the number at a path is from lo to hi.
func between[T int | float64](p *parser, at string, v, lo, hi T, fix string) {
	if v < lo || v > hi {
		p.add(p.line(at), fmt.Sprintf("%s: %v is out of range", at, v), fix)
	}
}

// atLeast1 checks the counts that must be at least 1.
func (p *parser) atLeast1(at string, v int, fix string) {
	if v < 1 {
		p.add(p.line(at), at+": must be at least 1", fix)
	}
}

// fileOrURL checks a file the config names (relative to it), or, with
// url, an http(s) URL instead.
func (p *parser) fileOrURL(at, v string, url bool) {
	if v == "" || (url && HTTPURL(v)) {
		return
	}
	if _, err := os.Stat(Resolve(p.file, v)); err != nil {
		fix := "give a file path relative to the config file"
		if url {
			fix += ", or an http(s) URL"
		}
		p.add(p.line(at), fmt.Sprintf("%s: cannot read %q", at, v), fix)
	}
}

// server checks the server section.
func (p *parser) server(s *Server) {
	if host, port, err := net.SplitHostPort(s.Listen); err != nil {
		p.add(p.line("server.listen"), fmt.Sprintf("server.listen: %q is not a listen address", s.Listen), `write host:port or :port, for example ":8080" or "127.0.0.1:8080"`)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.add(p.line("server.listen"), fmt.Sprintf("server.listen: port %q is not a number from 0 to 65535", port), `write host:port, for example ":8080"`)
	} else if host != "" && net.ParseIP(host) == nil && !nameRe.MatchString(strings.ToLower(strings.ReplaceAll(host, ".", "-"))) {
		p.add(p.line("server.listen"), fmt.Sprintf("server.listen: %q is not a host name or IP address", host), `write host:port, for example "0.0.0.0:8080"`)
	}
	if !HTTPURL(s.BaseURL) {
		p.add(p.line("server.base_url"), fmt.Sprintf("server.base_url: %q is not an http(s) URL", s.BaseURL), `write the public address of this server, for example "https://wall.example.org"`)
	}
	p.origins(s.EmbedOrigins, "server.embed_origins")
	for i, v := range s.TrustedProxies {
		if _, err := ParsePrefix(v); err != nil {
			at := fmt.Sprintf("server.trusted_proxies[%d]", i)
			p.add(p.line(at), fmt.Sprintf("%s: %q is not an address or CIDR", at, v), `write the proxy's address or network, such as "10.0.0.0/8", "127.0.0.1" or "::1"`)
		}
	}
	p.atLeast1("server.subscriber_queue", s.QueueSize, "write a number such as 512")
	p.atLeast1("server.max_streams", s.MaxStreams, "write a number such as 20000 (leave it out for the default)")
	p.atLeast1("server.max_streams_per_client", s.MaxStreamsPerClient, "write a number such as 200: the screens of a venue behind one address count together")
	p.atLeast1("server.api_rate", s.APIRate, "write requests per minute per client, such as 600")
}

// admin checks the console's accounts.
func (p *parser) admin(a *Admin) {
	for i, u := range a.Users {
		at := fmt.Sprintf("admin.users[%d]", i)
		if u.Name == "" || u.PasswordHash == "" {
			p.add(p.line(at), at+": a user needs a name and a password_hash", `add name: and password_hash: "${WALLCAST_HASH_NAME}" (make the hash with: wallcast hash-password)`)
		}
		p.oneOf(at+".role", u.Role, []string{"moderator", "admin"}, "a role", "use moderator (moderates walls) or admin (everything)")
	}
	for _, u := range a.Accounts() {
		if !p.edge && !strings.HasPrefix(u.PasswordHash, "$2") {
			p.add(p.line("admin"), fmt.Sprintf("admin: the password hash of %q is not a bcrypt hash", u.Name), "make one with: wallcast hash-password, and put it in the environment variable")
		}
	}
}

// sources checks the sources, each by its type's own checks, and returns
// their names (with their index).
func (p *parser) sources(list []Source) map[string]int {
	names := map[string]int{}
	for i, s := range list {
		at := fmt.Sprintf("sources[%d]", i)
		p.unique(names, i, "sources", "name", s.Name, "source", "a short name such as mastodon-social")
		if s.Settings == nil {
			p.add(p.line(at+".type"), fmt.Sprintf("%s.type: unknown source type %q", at, s.Type), "use one of: "+strings.Join(p.typeNames(), ", "))
			continue
		}
		if p.edge {
			continue
		}
		for _, pr := range s.Settings.Check() {
			where := at
			if pr.Key != "" {
				where = at + "." + pr.Key
			}
			p.add(p.line(where), where+": "+pr.Msg, pr.Fix)
		}
	}
	return names
}

var accentRe = regexp.MustCompile(`^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$`)

// wall checks the i-th wall: its name, what it takes, its display, its
// filters and whom it trusts.
func (p *parser) wall(c *Config, i int, walls, sources map[string]int) {
	w := &c.Walls[i]
	at := fmt.Sprintf("walls[%d]", i)
	p.unique(walls, i, "walls", "slug", w.Slug, "wall", "a short name used in its URL, such as devconf")
	takesAll := slices.ContainsFunc(w.Sources, func(name string) bool {
		src := c.Source(name)
		return src != nil && (src.AllPosts || src.People)
	})
	if w.Match != "" && w.Match != "all" && w.Match != "hashtags" {
		p.add(p.line(at+".match"), fmt.Sprintf("%s.match: %q is not a match", at, w.Match), "write match: all (everything its people sources bring) or match: hashtags (only posts with the wall's hashtags)")
	}
	if len(nonEmpty(w.Hashtags)) == 0 && len(nonEmpty(w.Keywords)) == 0 && !takesAll {
		p.add(p.line(at+".hashtags"), at+": the wall has no hashtags and no keywords, so no post would reach it", "add hashtags: [yourevent] or keywords: [\"your event\"]")
	}
	if len(w.Sources) == 0 {
		p.add(p.line(at), at+": the wall has no sources", "add sources: [name, ...] naming sources defined under sources:")
	}
	for j, name := range w.Sources {
		if _, ok := sources[name]; !ok {
			p.add(p.line(fmt.Sprintf("%s.sources[%d]", at, j)), fmt.Sprintf("%s.sources: no source is named %q", at, name),
				fmt.Sprintf("define it under sources:, or use one of: %s", strings.Join(sortedKeys(sources), ", ")))
		}
	}
	p.oneOf(at+".moderation", w.Moderation, []string{"auto", "manual"}, "a moderation mode", "use auto (show at once) or manual (hold for approval)")
	p.display(&w.Display, at+".display")
	p.origins(w.EmbedOrigins, at+".embed_origins")
	p.filters(w.Filters.WordLists, w.Filters.HoldIf, at+".filters")
	merged := c.Merged(w)
	if slices.Contains(merged.HoldIf, HoldClassifier) && c.Moderation.Classifier == nil {
		p.add(p.line(at+".filters"), at+": hold_if classifier needs a classifier", "add moderation: {classifier: {url: ...}} at the top level")
	}
	if slices.Contains(merged.HoldIf, HoldYoungAccount) && merged.MinAccountAge == 0 {
		p.add(p.line(at+".filters"), at+": hold_if young_account needs min_account_age", `add min_account_age: 168h (a week) to the wall's filters`)
	}
	for j, a := range w.Trusted.Authors {
		on, handle, ok := strings.Cut(a, ":")
		_, isSource := sources[on]
		if !ok || strings.TrimSpace(handle) == "" || (wall.Network(on) != on && !isSource) {
			p.add(p.line(fmt.Sprintf("%s.trusted.authors[%d]", at, j)), fmt.Sprintf("%s.trusted.authors: %q does not say which network or source vouches for the handle", at, a),
				`write network:handle or source:handle, such as "mastodon:@organiser@mastodon.social" or "bluesky:organiser.bsky.social": a handle is trusted only where that network vouches for it, never by a display name`)
		}
	}
	for j, name := range w.Trusted.Sources {
		if _, ok := sources[name]; !ok {
			p.add(p.line(fmt.Sprintf("%s.trusted.sources[%d]", at, j)), fmt.Sprintf("%s.trusted.sources: no source is named %q", at, name),
				fmt.Sprintf("use one of: %s", strings.Join(sortedKeys(sources), ", ")))
		}
	}
}

// display checks a wall's display: layout, theme, sizes, colours,
// language, branding files and sponsors.
func (p *parser) display(d *Display, at string) {
	p.oneOf(at+".layout", d.Layout, Layouts, "a layout", "use "+strings.Join(Layouts, ", "))
	p.oneOf(at+".overlay_position", d.OverlayPosition, OverlayPositions, "an overlay position", "use lower_third or corner")
	between(p, at+".image_seconds", d.ImageSeconds, 1, 60, "use a number of seconds from 1 to 60")
	between(p, at+".columns", d.Columns, 0, 12, "use 0 (as many as the screen holds) or a number of columns up to 12")
	p.oneOf(at+".theme", d.Theme, []string{"dark", "light"}, "a theme", "use dark or light")
	between(p, at+".max_posts", d.MaxPosts, 1, 500, "use a number from 1 to 500")
	between(p, at+".font_scale", d.FontScale, 0.5, 4, "use a number from 0.5 to 4")
	if d.Accent != "" && !accentRe.MatchString(d.Accent) {
		p.add(p.line(at+".accent"), fmt.Sprintf("%s.accent: %q is not a colour", at, d.Accent), `write a hex colour such as "#ff5a36"`)
	}
	if d.Locale != "" {
		p.oneOf(at+".locale", d.Locale, Locales, "a language Wallcast speaks", "use one of: "+strings.Join(Locales, ", "))
	}
	between(p, at+".spotlight_seconds", d.SpotlightSeconds, 2, 600, "use a number of seconds from 2 to 600")
	p.fileOrURL(at+".logo", d.Logo, true)
	p.fileOrURL(at+".background", d.Background, true)
	p.fileOrURL(at+".custom_css", d.CustomCSS, false)
	for j, sp := range d.Sponsors {
		sat := fmt.Sprintf("%s.sponsors[%d]", at, j)
		if sp.Image == "" || (!HTTPURL(sp.Image) && func() bool { _, err := os.Stat(Resolve(p.file, sp.Image)); return err != nil }()) {
			p.add(p.line(sat), sat+": the sponsor needs an image: a file next to the config or an http(s) URL", `write image: "sponsors/acme.png"`)
		}
		if sp.URL != "" && !HTTPURL(sp.URL) {
			p.add(p.line(sat+".url"), sat+".url: not an http(s) URL", `write url: "https://acme.example"`)
		}
		between(p, sat+".seconds", sp.Seconds, 2, 120, "use a number of seconds from 2 to 120")
	}
}

// classifier checks the classifier's settings.
func (p *parser) classifier(cl *Classifier) {
	at := "moderation.classifier"
	if !HTTPURL(cl.URL) {
		p.add(p.line(at+".url"), at+".url: the classifier needs an http(s) URL", `write url: "http://127.0.0.1:9000/score"`)
	}
	if cl.HoldAbove < 0 || cl.HoldAbove > 1 || cl.RejectAbove < 0 || cl.RejectAbove > 1 || cl.HoldAbove > cl.RejectAbove {
		p.add(p.line(at), at+": hold_above and reject_above are scores from 0 to 1, hold_above not above reject_above", "write hold_above: 0.8 and reject_above: 0.97")
	}
	p.oneOf(at+".on_error", cl.OnError, []string{"hold", "pass"}, "a choice", "use hold (a moderator decides) or pass (the post shows)")
	between(p, at+".concurrency", cl.Concurrency, 1, 256, "use a number of calls at once from 1 to 256")
}

var streamRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// cluster checks the cluster section.
func (p *parser) cluster(cl *Cluster) {
	if len(cl.NATS) == 0 && cl.Embedded == nil {
		p.add(p.line("cluster"), "cluster: no NATS to use", `list your NATS servers under nats: ["nats://10.0.0.5:4222"], or run one inside the ingest node with embedded: {listen: "0.0.0.0:4222", dir: nats-data}`)
	}
	for i, u := range cl.NATS {
		at := fmt.Sprintf("cluster.nats[%d]", i)
		pu, err := url.Parse(u)
		switch {
		case err != nil || (pu.Scheme != "nats" && pu.Scheme != "tls") || pu.Host == "":
			p.add(p.line(at), fmt.Sprintf("%s: %q is not a NATS URL", at, u), `write nats://host:4222 (or tls://host:4222)`)
		case pu.User != nil:
			p.add(p.line(at), at+": the URL carries a user or password", `write nats://host:4222, and the user under cluster.user and the password as cluster.password: "${WALLCAST_NATS_PASSWORD}"`)
		}
	}
	if cl.Password != "" && cl.Credentials != "" {
		p.add(p.line("cluster.password"), "cluster: both password and credentials are set", "keep one: a .creds file, or user and password")
	}
	if e := cl.Embedded; e != nil {
		host, port, err := net.SplitHostPort(e.Listen)
		if err != nil || port == "" {
			p.add(p.line("cluster.embedded.listen"), fmt.Sprintf("cluster.embedded.listen: %q is not a listen address", e.Listen), `write host:port, for example "0.0.0.0:4222"`)
		} else if !Loopback(host) && e.EdgePassword == "" && !p.edge {
			p.add(p.line("cluster.embedded.listen"), fmt.Sprintf("cluster.embedded.listen: %q is reachable from other machines, and no edge may connect without edge_password", e.Listen),
				`add edge_password: "${WALLCAST_EDGE_PASSWORD}" under cluster.embedded (edges connect as the user edge with it), and tls: {cert: nats.crt, key: nats.key, ca: ca.crt} under cluster so the links between machines are encrypted; or listen on "127.0.0.1:4222"`)
		}
		if cl.User == EdgeUser {
			p.add(p.line("cluster.user"), "cluster.user: \"edge\" is the edges' user on the embedded server", "name the ingest node's user otherwise, such as wallcast, or leave user out on edges")
		}
	}
	if p.edge && cl.Embedded != nil && cl.Credentials == "" && cl.Password == "" && cl.Embedded.EdgePassword == "" {
		p.add(p.line("cluster.embedded"), "cluster: an edge of the embedded NATS server needs its password", `set cluster.embedded.edge_password: "${WALLCAST_EDGE_PASSWORD}" (the ingest node's edge password) in the edge's environment`)
	}
	if t := cl.TLS; t != nil {
		if (t.Cert == "") != (t.Key == "") {
			p.add(p.line("cluster.tls"), "cluster.tls: cert and key go together", "give both cert: and key: (PEM files), or neither")
		}
		if cl.Embedded != nil && !p.edge && t.Cert == "" {
			p.add(p.line("cluster.tls"), "cluster.tls: the embedded server needs a certificate", "give cert: and key: (PEM files relative to the config)")
		}
		for key, f := range map[string]string{"cert": t.Cert, "key": t.Key, "ca": t.CA} {
			if f == "" {
				continue
			}
			if _, err := os.Stat(Resolve(p.file, f)); err != nil {
				p.add(p.line("cluster.tls."+key), fmt.Sprintf("cluster.tls.%s: cannot read %q", key, f), "give the path of a PEM file, relative to the config")
			}
		}
	}
	if !streamRe.MatchString(cl.Stream) {
		p.add(p.line("cluster.stream"), fmt.Sprintf("cluster.stream: %q is not a stream name", cl.Stream), "use letters, digits, - and _, such as wallcast")
	}
	between(p, "cluster.replicas", cl.Replicas, 1, 5, "use 1, or 3 on a three-node NATS cluster (at most 5)")
	if cl.Window < 100 {
		p.add(p.line("cluster.window"), fmt.Sprintf("cluster.window: %d is too small", cl.Window), "keep at least 100 events per wall, such as 10000")
	}
	if cl.Credentials != "" {
		if _, err := os.Stat(Resolve(p.file, cl.Credentials)); err != nil {
			p.add(p.line("cluster.credentials"), fmt.Sprintf("cluster.credentials: cannot read %q", cl.Credentials), "give the path of a NATS .creds file, or leave credentials out")
		}
	}
}

// Loopback reports whether a listen host takes connections from this
// machine only.
func Loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// filters checks the moderation keys of a filters block.
func (p *parser) filters(wordLists []string, holdIf []HoldReason, at string) {
	for i, l := range wordLists {
		if !wordlist.Has(l) {
			p.add(p.line(fmt.Sprintf("%s.word_lists[%d]", at, i)), fmt.Sprintf("%s.word_lists: there is no %q list", at, l), "use some of: "+strings.Join(wordlist.Languages(), ", "))
		}
	}
	for i, h := range holdIf {
		if !slices.Contains(HoldReasons, h) {
			p.add(p.line(fmt.Sprintf("%s.hold_if[%d]", at, i)), fmt.Sprintf("%s.hold_if: %q is not a reason to hold a post", at, h), "use some of: "+joined(HoldReasons))
		}
	}
}

// joined lists values for a fix: "a, b, c".
func joined[T ~string](vs []T) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return strings.Join(out, ", ")
}

// Locales are the languages of the display's own words.
var Locales = []string{"en", "fr", "de"}

// Resolve makes a path in the config relative to the config file's folder.
func Resolve(configFile, path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(filepath.Dir(configFile), path)
}

// unique checks the name of the i-th entry of a list (sources, walls): set,
// well formed, and not used by an earlier entry.
func (p *parser) unique(seen map[string]int, i int, list, key, name, kind, example string) {
	at := fmt.Sprintf("%s[%d]", list, i)
	switch {
	case name == "":
		p.add(p.line(at), fmt.Sprintf("%s: the %s has no %s", at, kind, key), fmt.Sprintf("add %s: followed by %s", key, example))
	case !nameRe.MatchString(name):
		p.add(p.line(at+"."+key), fmt.Sprintf("%s.%s: %q is not a valid %s", at, key, name, key), "use lower-case letters, digits, '-' and '_'")
	default:
		if prev, dup := seen[name]; dup {
			p.add(p.line(at+"."+key), fmt.Sprintf("%s.%s: %s %q is defined twice (first at line %d)", at, key, kind, name, p.line(fmt.Sprintf("%s[%d]", list, prev))), fmt.Sprintf("give each %s its own %s", kind, key))
		} else {
			seen[name] = i
		}
	}
}

func (p *parser) origins(list []string, at string) {
	for i, o := range list {
		if o == "*" {
			continue
		}
		if u, err := url.Parse(o); !HTTPURL(o) || err != nil || (u.Path != "" && u.Path != "/") {
			p.add(p.line(fmt.Sprintf("%s[%d]", at, i)), fmt.Sprintf("%s: %q is not an origin", at, o), `write scheme://host[:port] such as "https://news.example", or "*" for any`)
		}
	}
}

// setKeys lists the keys written directly under a path.
func setKeys(lines map[string]int, at string) []string {
	var out []string
	for k := range lines {
		if rest, ok := strings.CutPrefix(k, at+"."); ok && !strings.ContainsAny(rest, ".[") {
			out = append(out, rest)
		}
	}
	sort.Strings(out)
	return out
}

// typeNames lists the source types of the table, sorted.
func (p *parser) typeNames() []string {
	out := make([]string, 0, len(p.types))
	for t := range p.types {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func nonEmpty(list []string) []string {
	var out []string
	for _, s := range list {
		if strings.TrimSpace(strings.TrimPrefix(s, "#")) != "" {
			out = append(out, s)
		}
	}
	return out
}

// ParsePrefix reads a trusted proxy: a CIDR, or one address.
func ParsePrefix(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// scalar is the value of a key written directly in a mapping node.
func scalar(n *yaml.Node, key string) string {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1].Value
		}
	}
	return ""
}
