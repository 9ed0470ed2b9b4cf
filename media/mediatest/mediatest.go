// Package mediatest makes photos as phones send them, for tests: a JPEG
// with EXIF (orientation, camera make, a GPS position).
package mediatest

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
)

// Camera is the camera make written into the EXIF of PhoneJPEG: a served
// picture must not contain it.
const Camera = "SECRETCAM"

// PhoneJPEG returns a w×h JPEG, red on its left half and blue on its
// right, with a camera's grain (so it costs what a photo costs to decode,
// unlike a flat test card), and an EXIF block that asks for orientation (6: turn 90° right
// to show) and names Camera and a GPS latitude, as a phone's photo does.
func PhoneJPEG(w, h int, orientation uint16) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(uint64(w), uint64(h)))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			n := uint8(rng.IntN(40))
			c := color.RGBA{n, n, 215 + n, 255}
			if x < w/2 {
				c = color.RGBA{215 + n, n, n, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	var plain bytes.Buffer
	jpeg.Encode(&plain, img, &jpeg.Options{Quality: 90})
	b := plain.Bytes()
	var out bytes.Buffer
	out.Write(b[:2]) // SOI
	out.Write(exifSegment(orientation))
	out.Write(b[2:])
	return out.Bytes()
}

// exifSegment is an APP1 segment: "Exif", a big-endian TIFF header, IFD0
// with Make, Orientation and the GPS pointer, and a GPS IFD with a
// latitude.
func exifSegment(orientation uint16) []byte {
	be := binary.BigEndian
	var t bytes.Buffer
	t.WriteString("MM\x00\x2a")
	binary.Write(&t, be, uint32(8)) // IFD0 at 8
	entry := func(tag, typ uint16, count, value uint32) {
		binary.Write(&t, be, tag)
		binary.Write(&t, be, typ)
		binary.Write(&t, be, count)
		binary.Write(&t, be, value)
	}
	const (
		ifd0   = 8
		make0  = ifd0 + 2 + 3*12 + 4 // 50
		gps    = make0 + 10          // 60
		ration = gps + 2 + 2*12 + 4  // 90
	)
	binary.Write(&t, be, uint16(3))
	entry(0x010F, 2, 10, make0)                  // Make, ASCII
	entry(0x0112, 3, 1, uint32(orientation)<<16) // Orientation, SHORT (left-justified)
	entry(0x8825, 4, 1, gps)                     // GPSInfo IFD pointer
	binary.Write(&t, be, uint32(0))              // no next IFD
	t.WriteString(Camera + "\x00")               // 10 bytes
	binary.Write(&t, be, uint16(2))              // GPS IFD
	entry(0x0001, 2, 2, uint32('N')<<24)         // GPSLatitudeRef "N"
	entry(0x0002, 5, 3, ration)                  // GPSLatitude, 3 RATIONAL
	binary.Write(&t, be, uint32(0))
	for _, v := range []uint32{48, 1, 51, 1, 2959, 100} { // 48° 51' 29.59"
		binary.Write(&t, be, v)
	}
	payload := append([]byte("Exif\x00\x00"), t.Bytes()...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	be.PutUint16(seg[2:], uint16(len(payload)+2))
	return append(seg, payload...)
}
