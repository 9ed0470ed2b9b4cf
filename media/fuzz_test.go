package media_test

import (
	"bytes"
	"image/jpeg"
	"testing"

	"github.com/wallcast/wallcast/media"
	"github.com/wallcast/wallcast/media/mediatest"
)

// FuzzProcess: whatever bytes a phone sends, Process does not panic, and
// what it takes comes out as a JPEG within the size asked, with no EXIF.
func FuzzProcess(f *testing.F) {
	f.Add(mediatest.PhoneJPEG(24, 16, 6))
	f.Add([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"))
	f.Add([]byte("GIF89a\x10\x00\x10\x00\x80\x00\x00"))
	f.Add([]byte("RIFF\x1a\x00\x00\x00WEBPVP8 "))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := media.Process(data, 32)
		if err != nil {
			return
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(img.Data))
		if err != nil || cfg.Width > 32 || cfg.Height > 32 || cfg.Width != img.Width || cfg.Height != img.Height {
			t.Fatalf("output %d×%d (%v), said %d×%d", cfg.Width, cfg.Height, err, img.Width, img.Height)
		}
		if bytes.Contains(img.Data, []byte("Exif")) {
			t.Fatal("EXIF in the output")
		}
	})
}
