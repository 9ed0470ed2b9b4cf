// Package media turns the photos the audience sends into pictures a screen
// may show (decoded with limits, turned upright, resized, re-encoded with
// no metadata) and keeps them on disk by content hash.
package media

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/gif" // decoders, by their bytes: GIF (first frame),
	"image/jpeg"  // JPEG,
	_ "image/png" // PNG,
	"slices"

	"github.com/disintegration/imaging"
	xdraw "golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // and WebP
)

// MaxPixels is the most pixels a photo may have: what is larger is
// refused before its pixels are decoded (a 100-byte PNG can claim to be
// 60,000 × 60,000).
const MaxPixels = 50_000_000

// Quality is the JPEG quality of the re-encoded picture.
const Quality = 85

// Why a photo is refused.
var (
	ErrNotImage  = errors.New("not a JPEG, PNG, WebP or GIF image")
	ErrHEIC      = errors.New("a HEIC or AVIF photo: choose JPEG (\"Most compatible\") in the camera's settings, or share the photo as JPEG")
	ErrTooLarge  = fmt.Errorf("more than %d megapixels", MaxPixels/1_000_000)
	errEmptyData = errors.New("no image data")
)

// Image is a re-encoded picture.
type Image struct {
	Data          []byte
	Ext           string // "jpg"
	Type          string // "image/jpeg"
	Width, Height int
}

// Format tells a photo's format by its first bytes, never by its name or
// declared type: "jpeg", "png", "gif", "webp", or "heic" for the photos
// of recent phones that Wallcast cannot decode, "" for anything else.
func Format(b []byte) string {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return "jpeg"
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return "gif"
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "webp"
	case len(b) >= 12 && string(b[4:8]) == "ftyp" &&
		slices.Contains([]string{"heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1", "avif", "avis"}, string(b[8:12])):
		return "heic"
	}
	return ""
}

// Process checks a photo by its bytes, decodes it (refusing more than
// MaxPixels before the pixels are read), turns it upright by its EXIF
// orientation, fits it within maxSide pixels on its longest side, lays
// what is transparent on white, and encodes it as JPEG. Nothing of the
// original's metadata (GPS position, camera, author) is kept: the new
// file is made from the pixels alone. Apart from turning a photo that
// asks for it, the work runs on the calling goroutine only (see Worker).
func Process(data []byte, maxSide int) (Image, error) {
	if len(data) == 0 {
		return Image{}, errEmptyData
	}
	format := Format(data)
	switch format {
	case "":
		return Image{}, ErrNotImage
	case "heic":
		return Image{}, ErrHEIC
	}
	cfg, got, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || got != format || cfg.Width <= 0 || cfg.Height <= 0 {
		return Image{}, ErrNotImage
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return Image{}, ErrTooLarge
	}
	img, err := imaging.Decode(bytes.NewReader(data), imaging.AutoOrientation(true))
	if err != nil {
		return Image{}, ErrNotImage
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > maxSide || h > maxSide {
		if w >= h {
			w, h = maxSide, max(1, h*maxSide/w)
		} else {
			w, h = max(1, w*maxSide/h), maxSide
		}
	}
	var out image.Image = img
	if w != b.Dx() || h != b.Dy() || format != "jpeg" {
		src := halve(img, w, h)
		dst := image.NewRGBA(image.Rect(0, 0, w, h))
		if format != "jpeg" {
			// JPEG has no transparency: what was see-through becomes
			// white, not black.
			draw.Draw(dst, dst.Bounds(), image.White, image.Point{}, draw.Src)
		}
		xdraw.ApproxBiLinear.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Over, nil)
		out = dst
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, out, &jpeg.Options{Quality: Quality}); err != nil {
		return Image{}, fmt.Errorf("media: encode: %w", err)
	}
	return Image{Data: buf.Bytes(), Ext: "jpg", Type: "image/jpeg", Width: w, Height: h}, nil
}

// halve makes an image half as large on each side (each pixel the mean of
// four) until it is less than twice w×h: what is left to scale is less
// than a factor of two, where bilinear sampling misses no pixel. Each step
// is a new image a quarter of the last: no buffer larger than the photo.
func halve(img image.Image, w, h int) image.Image {
	for {
		b := img.Bounds()
		if b.Dx() < 2*w || b.Dy() < 2*h {
			return img
		}
		half := image.NewRGBA(image.Rect(0, 0, b.Dx()/2, b.Dy()/2))
		xdraw.ApproxBiLinear.Scale(half, half.Bounds(), img, image.Rect(b.Min.X, b.Min.Y, b.Min.X+half.Rect.Dx()*2, b.Min.Y+half.Rect.Dy()*2), draw.Src, nil)
		img = half
	}
}
