package bench

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"sync"
	"time"
)

// Burst is what a burst of uploads measured: how long each took from
// the first byte sent to the answer, and the answers.
type Burst struct {
	Sent, Taken      int
	Bytes            int // one photo's size
	Pixels           string
	P50, P99, Max    time.Duration
	Answers          map[int]int // by HTTP status
	Started, Elapsed time.Duration
}

// Photo makes a photo-like JPEG of w×h: smooth light with a little grain,
// so it compresses as a camera's photo does, not as a flat test card.
func Photo(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(1, 2))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			n := int(rng.IntN(24)) - 12
			c := func(v int) uint8 { return uint8(min(max(v+n, 0), 255)) }
			img.SetRGBA(x, y, color.RGBA{c(60 + 150*x/w), c(90 + 100*y/h), c(200 - 120*(x+y)/(w+h)), 255})
		}
	}
	var b bytes.Buffer
	jpeg.Encode(&b, img, &jpeg.Options{Quality: 88})
	return b.Bytes()
}

// burst sends n uploads at once to a wall's form, each from its own phone.
func burst(ctx context.Context, base, wall string, n int, photo []byte) Burst {
	res := Burst{Sent: n, Bytes: len(photo), Answers: map[int]int{}}
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	// One body for every phone, made before the burst: the tool shares
	// the machine with the server and measures the screens' latency, so
	// it must not spend the burst building 200 bodies.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("text", "bench upload")
	mw.WriteField("consent", "yes")
	fw, _ := mw.CreateFormFile("photo", "photo.jpg")
	fw.Write(photo)
	mw.Close()
	start := time.Now()
	client := &http.Client{Timeout: 2 * time.Minute}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/walls/"+wall+"/post", bytes.NewReader(body.Bytes()))
			req.Header.Set("Content-Type", mw.FormDataContentType())
			req.Header.Set("Accept", "application/json")
			req.AddCookie(&http.Cookie{Name: "wallcast_phone", Value: fmt.Sprintf("%032x", i+1)})
			t0 := time.Now()
			resp, err := client.Do(req)
			status := 0
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				status = resp.StatusCode
			}
			d := time.Since(t0)
			mu.Lock()
			res.Answers[status]++
			if status == http.StatusAccepted {
				res.Taken++
				lat = append(lat, d)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.P50, _, res.P99, res.Max = quantiles(lat)
	return res
}
