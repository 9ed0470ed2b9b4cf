package media_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/wallcast/wallcast/media"
	"github.com/wallcast/wallcast/media/mediatest"
)

func encoded(t *testing.T, enc func(*bytes.Buffer, image.Image) error, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 0 // transparent black
	}
	var b bytes.Buffer
	if err := enc(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// hugePNG is a valid PNG header that claims w×h pixels, with no pixels.
func hugePNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.WriteString("IHDR")
	b.Write(ihdr)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte("IHDR"), ihdr...)))
	return b.Bytes()
}

func TestProcess(t *testing.T) {
	pngT := func(b *bytes.Buffer, i image.Image) error { return png.Encode(b, i) }
	gifT := func(b *bytes.Buffer, i image.Image) error { return gif.Encode(b, i, nil) }
	heic := append([]byte{0, 0, 0, 0x18}, []byte("ftypheic\x00\x00\x00\x00mif1heic")...)
	tests := []struct {
		name      string
		data      []byte
		maxSide   int
		want      error
		w, h      int
		transpose bool
	}{
		{name: "phone photo, turned and fitted", data: mediatest.PhoneJPEG(800, 400, 6), maxSide: 300, w: 150, h: 300, transpose: true},
		{name: "upright small photo kept its size", data: mediatest.PhoneJPEG(120, 80, 1), maxSide: 1600, w: 120, h: 80},
		{name: "png with transparency", data: encoded(t, pngT, 40, 20), maxSide: 1600, w: 40, h: 20},
		{name: "gif first frame", data: encoded(t, gifT, 30, 30), maxSide: 10, w: 10, h: 10},
		{name: "heic", data: heic, want: media.ErrHEIC},
		{name: "text named .jpg", data: []byte("<svg onload=alert(1)>"), want: media.ErrNotImage},
		{name: "jpeg magic, garbage after", data: []byte("\xff\xd8\xff\xe0garbage"), want: media.ErrNotImage},
		{name: "pixel bomb", data: hugePNG(60000, 60000), want: media.ErrTooLarge},
		{name: "empty", data: nil, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := media.Process(tc.data, max(tc.maxSide, 1))
			if tc.name == "empty" {
				if err == nil {
					t.Fatal("an empty photo was taken")
				}
				return
			}
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if img.Width != tc.w || img.Height != tc.h {
				t.Fatalf("size %d×%d, want %d×%d", img.Width, img.Height, tc.w, tc.h)
			}
			if media.Format(img.Data) != "jpeg" || img.Ext != "jpg" {
				t.Fatalf("not a JPEG: %q", img.Data[:4])
			}
			if bytes.Contains(img.Data, []byte("Exif")) || bytes.Contains(img.Data, []byte(mediatest.Camera)) {
				t.Fatal("the metadata of the original is in the picture")
			}
			dec, err := jpeg.Decode(bytes.NewReader(img.Data))
			if err != nil {
				t.Fatal(err)
			}
			if tc.transpose {
				// Orientation 6 turns the photo right: its left half
				// (red) is on top.
				if r, _, b, _ := dec.At(img.Width/2, img.Height/8).RGBA(); r < b {
					t.Fatal("the photo was not turned upright: the top is not red")
				}
			}
			if tc.name == "png with transparency" {
				if c := color.NRGBAModel.Convert(dec.At(5, 5)).(color.NRGBA); c.R < 240 || c.G < 240 || c.B < 240 {
					t.Fatalf("transparent became %v, want white", c)
				}
			}
		})
	}
}

// BenchmarkPhone12MP is the cost of one upload from a phone: a 12-megapixel
// JPEG (4000×3000) decoded, turned, fitted within 1600 pixels, encoded.
func BenchmarkPhone12MP(b *testing.B) {
	data := mediatest.PhoneJPEG(4000, 3000, 6)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := media.Process(data, 1600); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPhoneFromTheForm is the usual upload: a 1600×1200 photo the
// form's script already made smaller in the browser (upright, no EXIF).
func BenchmarkPhoneFromTheForm(b *testing.B) {
	data := mediatest.PhoneJPEG(1600, 1200, 1)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := media.Process(data, 1600); err != nil {
			b.Fatal(err)
		}
	}
}
