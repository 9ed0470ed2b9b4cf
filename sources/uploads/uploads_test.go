package uploads

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/media"
	"github.com/wallcast/wallcast/media/mediatest"
	"github.com/wallcast/wallcast/wall"
)

// desk runs a source whose ingest commits at once and keeps the items.
type desk struct {
	*Source
	mu    sync.Mutex
	items []wall.Item
	dir   string
	now   time.Time
}

func newDesk(t *testing.T, tune func(*Settings)) *desk {
	t.Helper()
	var set Settings
	set.Defaults()
	if tune != nil {
		tune(&set)
	}
	dir := t.TempDir()
	st, err := media.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	d := &desk{dir: dir, now: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	st.SetLive(func(context.Context) (map[string]bool, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		live := map[string]bool{}
		for _, it := range d.items {
			for _, m := range it.Post.Media {
				if n, ok := media.NameOf(m.URL); ok {
					live[n] = it.Kind == wall.ItemPost
				}
			}
		}
		return live, nil
	})
	d.Source = New(Config{Name: "phones", Settings: set, BaseURL: "https://wall.example"}, []byte("k"), st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	d.Source.now = func() time.Time { return d.now }
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		d.Run(ctx, wall.Subscription{}, func(_ context.Context, it wall.Item) error {
			d.mu.Lock()
			if it.Kind == wall.ItemDelete { // the post and its picture go
				for i := range d.items {
					if d.items[i].Post.NativeID == it.Post.NativeID {
						d.items[i].Kind = wall.ItemDelete
					}
				}
			} else {
				d.items = append(d.items, it)
			}
			d.mu.Unlock()
			it.Ack(nil)
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-ran })
	for deadline := time.Now().Add(5 * time.Second); ; {
		d.Source.mu.Lock()
		running := d.Source.emit != nil
		d.Source.mu.Unlock()
		if running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the source did not start")
		}
		time.Sleep(time.Millisecond)
	}
	return d
}

func (d *desk) upload(u Upload) Upload {
	if u.Wall == "" {
		u.Wall = "devconf"
	}
	if u.Code == "" {
		u.Code = Code([]byte("k"), u.Wall, d.Every(), d.now)
	}
	if u.Device == "" {
		u.Device = "0123456789abcdef0123456789abcdef"
	}
	if u.Addr == "" {
		u.Addr = "192.0.2.1"
	}
	return u
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func TestTakeRefuses(t *testing.T) {
	heic := append([]byte{0, 0, 0, 0x18}, []byte("ftypheic\x00\x00\x00\x00mif1heic")...)
	tests := []struct {
		name   string
		u      Upload
		why    string
		status int
	}{
		{"no consent", Upload{Text: "hi"}, WhyConsent, http.StatusBadRequest},
		{"nothing", Upload{Consent: true, Text: "  \n "}, WhyEmpty, http.StatusBadRequest},
		{"text too long", Upload{Consent: true, Text: strings.Repeat("é", 281)}, WhyTextLong, http.StatusBadRequest},
		{"wrong code", Upload{Consent: true, Text: "hi", Code: "AAAAAA"}, WhyCode, http.StatusForbidden},
		{"not an image", Upload{Consent: true, Photo: []byte("<svg onload=alert(1)>")}, WhyNotImage, http.StatusUnsupportedMediaType},
		{"heic", Upload{Consent: true, Photo: heic}, WhyHEIC, http.StatusUnsupportedMediaType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDesk(t, nil)
			_, err := d.Take(context.Background(), d.upload(tc.u))
			var r *Refusal
			if !errors.As(err, &r) || r.Why != tc.why || r.Status != tc.status {
				t.Fatalf("err = %v, want %s (%d)", err, tc.why, tc.status)
			}
			if len(d.items) != 0 || len(files(t, d.dir)) != 0 {
				t.Fatalf("a refused upload left %d items and files %v", len(d.items), files(t, d.dir))
			}
		})
	}
}

func TestTakeAPhoto(t *testing.T) {
	d := newDesk(t, func(s *Settings) { s.MaxPixels = 200 })
	r, err := d.Take(context.Background(), d.upload(Upload{Consent: true, Name: "  Ana\tB.  ", Text: "Hello\r\nroom #DevConf", Photo: mediatest.PhoneJPEG(800, 400, 6)}))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.items) != 1 {
		t.Fatalf("%d items", len(d.items))
	}
	it := d.items[0]
	p := it.Post
	if it.Walls[0] != "devconf" || p.Network != "upload" || p.Author.Name != "Ana B." || !strings.HasPrefix(p.Author.Handle, "phone-") ||
		p.Text != "Hello\nroom #DevConf" || p.HTML != "<p>Hello<br>room #DevConf</p>" || wall.PostID("phones", p.NativeID) != r.ID {
		t.Fatalf("post %+v, receipt %+v", p, r)
	}
	name, ok := media.NameOf(p.Media[0].URL)
	if !ok {
		t.Fatalf("media %+v", p.Media)
	}
	data, err := os.ReadFile(filepath.Join(d.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("Exif")) || bytes.Contains(data, []byte(mediatest.Camera)) {
		t.Fatal("the stored picture keeps the photo's metadata")
	}
	if !strings.HasPrefix(r.DeleteURL, "https://wall.example/walls/devconf/post/delete?id=phones%3A") {
		t.Fatalf("delete link %s", r.DeleteURL)
	}

	// Someone else's link, or a made-up token, deletes nothing.
	if err := d.Delete(context.Background(), r.ID, strings.Repeat("0", 32)); err == nil {
		t.Fatal("a made-up token deleted the post")
	}
	if err := d.Delete(context.Background(), "other:"+p.NativeID, d.token("other:"+p.NativeID)); err == nil {
		t.Fatal("another source's post was deleted")
	}
	if err := d.Delete(context.Background(), r.ID, d.token(r.ID)); err != nil {
		t.Fatal(err)
	}
	if d.items[0].Kind != wall.ItemDelete || len(files(t, d.dir)) != 0 {
		t.Fatalf("after the delete: kind %v, files %v", d.items[0].Kind, files(t, d.dir))
	}
}

func TestRoomCodes(t *testing.T) {
	d := newDesk(t, nil)
	now := d.now
	code := d.Code("devconf")
	if len(code) != CodeLength || strings.ContainsAny(code, "01IOL") {
		t.Fatalf("code %q", code)
	}
	if d.Code("other") == code {
		t.Fatal("two walls share a code")
	}
	for _, tc := range []struct {
		after time.Duration
		ok    bool
	}{{0, true}, {9 * time.Minute, true}, {15 * time.Minute, true}, {21 * time.Minute, false}} {
		d.now = now.Add(tc.after)
		if got := d.ValidCode("devconf", strings.ToLower(code)); got != tc.ok {
			t.Errorf("%v later: valid = %v, want %v", tc.after, got, tc.ok)
		}
	}
	d.now = now.Add(10 * time.Minute)
	if d.Code("devconf") == code {
		t.Fatal("the code did not change")
	}
}

func TestPerPhoneAndAddress(t *testing.T) {
	d := newDesk(t, func(s *Settings) {
		s.PerDevice = config.Rate{N: 3, Per: 10 * time.Minute}
		s.PerAddress = config.Rate{N: 5, Per: 10 * time.Minute}
	})
	take := func(device, addr string) error {
		_, err := d.Take(context.Background(), d.upload(Upload{Consent: true, Text: "hi", Device: device, Addr: addr}))
		return err
	}
	phone := "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	for range 3 {
		if err := take(phone, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	var r *Refusal
	if err := take(phone, "192.0.2.9"); !errors.As(err, &r) || r.Why != WhyTooMany || r.RetryAfter <= 0 {
		t.Fatalf("4th post from one phone: %v", err)
	}
	// A refused post does not use up a turn: a wrong code, then a good one.
	other := "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	if _, err := d.Take(context.Background(), d.upload(Upload{Consent: true, Text: "x", Photo: []byte("nope"), Device: other})); err == nil {
		t.Fatal("not an image was taken")
	}
	if err := take(other, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	// Address: 4 taken from 192.0.2.1 so far (3 + 1); one more, then no.
	if err := take("cccccccccccccccccccccccccccccccc", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if err := take("dddddddddddddddddddddddddddddddd", "192.0.2.1"); !errors.As(err, &r) || r.Why != WhyTooMany {
		t.Fatalf("6th post from one address: %v", err)
	}
	d.now = d.now.Add(11 * time.Minute)
	if err := take(phone, "192.0.2.1"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestHoneypot(t *testing.T) {
	d := newDesk(t, nil)
	r, err := d.Take(context.Background(), d.upload(Upload{Consent: true, Text: "buy now", Trap: "http://spam.example"}))
	if err != nil || r.ID == "" {
		t.Fatalf("a bot must be thanked: %v %+v", err, r)
	}
	if len(d.items) != 0 {
		t.Fatal("the bot's post was stored")
	}
}

func TestSettingsChecked(t *testing.T) {
	s := Settings{MaxPhotoBytes: 10, MaxPixels: 10, MaxText: -1, RoomCodeEvery: config.Duration(time.Second)}
	s.Defaults()
	got := map[string]bool{}
	for _, p := range s.Check() {
		got[p.Key] = true
	}
	for _, k := range []string{"max_photo_bytes", "max_pixels", "max_text", "room_code_every"} {
		if !got[k] {
			t.Errorf("no problem at %s", k)
		}
	}
	var ok Settings
	ok.Defaults()
	if p := ok.Check(); len(p) != 0 {
		t.Fatalf("defaults refused: %v", p)
	}
}
