package e2e

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/wallcast/wallcast/bench"
)

// TestBench runs the load tool against the shipped bench config on a small
// scale: every screen gets every post, none is dropped.
func TestBench(t *testing.T) {
	t.Setenv("WALLCAST_BENCH_SECRET", "test-secret")
	t.Setenv("WALLCAST_LISTEN", "127.0.0.1:0")
	t.Setenv("WALLCAST_DB", t.TempDir()+"/bench.db")
	a := startFile(t, "../../bench/config.yaml")
	defer a.Shutdown()
	var out bytes.Buffer
	res, err := bench.Run(context.Background(), bench.Options{
		URL: "http://" + a.Addr(), Wall: "bench", Hook: "bench", Secret: "test-secret",
		Subscribers: 200, Rate: 40, Duration: time.Second, PID: os.Getpid(),
		Sources: []string{"127.0.0.1", "127.0.0.2"}, PerSource: 100,
	}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log(out.String())
	if res.Published < 10 || res.Lost != 0 || res.Dropped != 0 || res.Deliveries != int64(res.Published*200) || res.P99 <= 0 {
		t.Errorf("result = %+v", res)
	}
}
