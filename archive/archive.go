// Package archive writes a wall's archive after the event: one zip file
// with every post the wall showed (its HTML, text, author, network,
// times and moderation history), their media files, the report, and a
// static page that opens offline. Forgotten authors are not in it: forget
// deletes their posts and names them in the audit by a hash only.
package archive

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/wallcast/wallcast/media"
	"github.com/wallcast/wallcast/wall"
)

//go:embed index.html
var pages embed.FS

var page = template.Must(template.ParseFS(pages, "index.html"))

// MaxMedia is the largest media file kept; a larger one stays a link.
const MaxMedia = 32 << 20

// Options is what an archive is made of.
type Options struct {
	Report  wall.Report                // with its shown posts
	History map[string][]wall.Decision // by post id
	// Media fetches the posts' images and videos into the archive (false:
	// they stay links to the networks).
	Media bool
	// AllowPrivate lets media come from loopback and private addresses
	// (tests); otherwise a post cannot make the exporter reach into the
	// organiser's own network.
	AllowPrivate bool
	// MediaDir is the media store's folder: the pictures sent from phones
	// (their URLs are Wallcast's own /media/…) are read from it.
	MediaDir string
	Log      *slog.Logger
}

// Post is a post as the archive keeps it.
type Post struct {
	wall.ShownPost
	History []wall.Decision `json:"history,omitempty"`
	// Files are the archive's copies of the media, in their order ("" for
	// one that stayed a link).
	Files []string `json:"files,omitempty"`
}

// SafeHTML is the post's HTML for the page: it passed the sanitiser
// before it was stored, and the page's policy runs no script.
func (p Post) SafeHTML() template.HTML { return template.HTML(p.HTML) }

// Media is a media item as the page shows it.
type Media struct {
	Type, Src, Alt string
}

// Shown are the media the page shows: the archive's copy where there is
// one, else the link; none a moderator hid.
func (p Post) Shown() []Media {
	var out []Media
	for i, m := range p.ShownPost.Media {
		if m.Hidden {
			continue
		}
		src := m.URL
		if i < len(p.Files) && p.Files[i] != "" {
			src = p.Files[i]
		}
		out = append(out, Media{Type: m.Type, Src: src, Alt: m.Alt})
	}
	return out
}

// Summary says what an archive holds.
type Summary struct {
	Posts, Files, Links int
}

// Write writes the archive as a zip to out.
func Write(ctx context.Context, out io.Writer, o Options) (Summary, error) {
	var sum Summary
	z := zip.NewWriter(out)
	client := mediaClient(o.AllowPrivate)
	files := map[string]string{} // media URL -> file in the archive
	var posts []Post
	for _, sp := range o.Report.Posts {
		p := Post{ShownPost: sp, History: o.History[sp.ID]}
		for _, m := range sp.Media {
			name := ""
			if o.Media && !m.Hidden {
				if f, ok := files[m.URL]; ok {
					name = f
				} else if f, err := copyMedia(ctx, client, z, o.MediaDir, m.URL); err != nil {
					o.Log.Warn("archive: media kept as a link", "url", m.URL, "err", err)
				} else {
					files[m.URL], name = f, f
					sum.Files++
				}
			}
			if name == "" {
				sum.Links++
			}
			p.Files = append(p.Files, name)
		}
		posts = append(posts, p)
	}
	sum.Posts = len(posts)
	rep := o.Report
	rep.Posts = nil
	for name, v := range map[string]any{"posts.json": posts, "report.json": rep} {
		w, err := z.Create(name)
		if err != nil {
			return sum, err
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return sum, fmt.Errorf("archive %s: %w", name, err)
		}
	}
	w, err := z.Create("index.html")
	if err != nil {
		return sum, err
	}
	if err := page.Execute(w, map[string]any{"Report": o.Report, "Posts": posts, "Made": time.Now().UTC()}); err != nil {
		return sum, fmt.Errorf("archive page: %w", err)
	}
	return sum, z.Close()
}

// copyMedia copies one media file into the archive: from the media store
// for a picture sent from a phone, else from the network.
func copyMedia(ctx context.Context, client *http.Client, z *zip.Writer, dir, url string) (string, error) {
	name, ok := media.NameOf(url)
	if !ok {
		return fetch(ctx, client, z, url)
	}
	if dir == "" {
		return "", errors.New("no media_dir to read it from")
	}
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return "", err
	}
	return store(z, data, "image/jpeg")
}

// fetch copies one media file into the archive, named by its content's
// hash; it refuses what is not an image or a video, or too big.
func fetch(ctx context.Context, client *http.Client, z *zip.Writer, url string) (string, error) {
	if !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://") {
		return "", errors.New("not an http(s) URL")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if !strings.HasPrefix(ct, "image/") && !strings.HasPrefix(ct, "video/") {
		return "", fmt.Errorf("%q is not an image or a video", ct)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxMedia+1))
	if err != nil {
		return "", err
	}
	if len(data) > MaxMedia {
		return "", fmt.Errorf("larger than %d MiB", MaxMedia>>20)
	}
	return store(z, data, ct)
}

// store writes a media file of type ct into the archive, named by the
// hash of its content.
func store(z *zip.Writer, data []byte, ct string) (string, error) {
	ext := ".bin"
	if exts, _ := mime.ExtensionsByType(ct); len(exts) > 0 {
		ext = exts[len(exts)-1]
	}
	h := sha256.Sum256(data)
	name := "media/" + hex.EncodeToString(h[:16]) + ext
	w, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Modified: time.Now()})
	if err != nil {
		return "", err
	}
	_, err = w.Write(data)
	return name, err
}

// mediaClient fetches media; unless allowPrivate, it refuses to connect
// to loopback, private, link-local and unspecified addresses.
func mediaClient(allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if !allowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return err
			}
			a := ap.Addr().Unmap()
			if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsUnspecified() || a.IsMulticast() {
				return fmt.Errorf("%s is not a public address", a)
			}
			return nil
		}
	}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, Proxy: http.ProxyFromEnvironment}, Timeout: 60 * time.Second}
}
