// Command webpenc compares WebP encoders on the same photos: libwebp
// through cgo (what animegan links), libwebp compiled to WebAssembly and
// run by wazero (github.com/gen2brain/webp, built with -tags nodynamic so
// it cannot fall back to a system libwebp), and a pure-Go lossless encoder
// (github.com/HugoSmits86/nativewebp). It is a module of its own so that
// animegan does not depend on the alternatives it measured.
//
//	cd bench/webpenc && go run -tags nodynamic . [-size 1024] [-rounds 3] PHOTO...
//
// Each photo is decoded and shrunk to -size on its longest side (the
// default output size of convert), then encoded by each encoder in turn,
// -rounds times; the table gives the median CPU time of the process per
// photo (getrusage, so that other processes loading the machine count
// less than in wall time; run with GOMAXPROCS=1 to keep the encoders on
// one core each) and the mean output size, with each encoder's time as a
// ratio of cgo libwebp's measured in the same run.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"io"
	"os"
	"runtime"
	"slices"
	"syscall"
	"time"

	"animegan/imageio"

	nativewebp "github.com/HugoSmits86/nativewebp"
	wasmwebp "github.com/gen2brain/webp"
)

type encoder struct {
	name string
	enc  func(w io.Writer, img *image.NRGBA) error
}

func main() {
	size := flag.Int("size", 1024, "longest side the photos are shrunk to")
	rounds := flag.Int("rounds", 3, "times each photo is encoded by each encoder")
	quality := flag.Int("quality", 90, "lossy quality")
	flag.Parse()
	if err := wasmwebp.Dynamic(); err == nil {
		fmt.Fprintln(os.Stderr, "gen2brain/webp would use the system libwebp: build with -tags nodynamic")
		os.Exit(2)
	}
	var imgs []*image.NRGBA
	for _, p := range flag.Args() {
		f, err := os.Open(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		img, err := imageio.Decode(f, imageio.DecodeOptions{})
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", p, err)
			os.Exit(1)
		}
		b := img.Pixels.Bounds()
		s := float64(*size) / float64(max(b.Dx(), b.Dy()))
		imgs = append(imgs, imageio.Resize(img.Pixels, max(1, int(float64(b.Dx())*s)), max(1, int(float64(b.Dy())*s))))
	}
	if len(imgs) == 0 {
		fmt.Fprintln(os.Stderr, "usage: webpenc [-size N] [-rounds N] PHOTO...")
		os.Exit(2)
	}
	q := *quality
	encoders := []encoder{
		{fmt.Sprintf("cgo libwebp, lossy q%d", q), func(w io.Writer, m *image.NRGBA) error { return imageio.Encode(w, m, imageio.WebP, q) }},
		{fmt.Sprintf("wasm libwebp (gen2brain/webp), lossy q%d", q), func(w io.Writer, m *image.NRGBA) error {
			return wasmwebp.Encode(w, m, wasmwebp.Options{Quality: q, Method: 4})
		}},
		{"cgo libwebp, lossless", func(w io.Writer, m *image.NRGBA) error { return imageio.Encode(w, m, imageio.WebP, 100) }},
		{"wasm libwebp (gen2brain/webp), lossless", func(w io.Writer, m *image.NRGBA) error {
			return wasmwebp.Encode(w, m, wasmwebp.Options{Lossless: true, Quality: 75, Method: 4})
		}},
		{"pure Go (HugoSmits86/nativewebp), lossless", func(w io.Writer, m *image.NRGBA) error { return nativewebp.Encode(w, m, nil) }},
	}
	// Warm up each encoder once (wazero compiles its module on first use).
	for _, e := range encoders {
		if err := e.enc(io.Discard, imgs[0]); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", e.name, err)
			os.Exit(1)
		}
	}
	fmt.Printf("%d photos at %d px longest side, %d rounds, GOMAXPROCS %d\n\n", len(imgs), *size, *rounds, runtime.GOMAXPROCS(0))
	fmt.Printf("%-46s %12s %8s %12s\n", "encoder", "CPU ms/photo", "ratio", "KiB/photo")
	var base float64
	for i, e := range encoders {
		var times []float64
		var bytesOut int
		for r := 0; r < *rounds; r++ {
			for _, m := range imgs {
				var buf bytes.Buffer
				start := cpuTime()
				if err := e.enc(&buf, m); err != nil {
					fmt.Fprintf(os.Stderr, "%s: %v\n", e.name, err)
					os.Exit(1)
				}
				times = append(times, float64((cpuTime()-start).Microseconds())/1000)
				if r == 0 {
					bytesOut += buf.Len()
				}
			}
		}
		slices.Sort(times)
		med := times[len(times)/2]
		if i == 0 {
			base = med
		}
		fmt.Printf("%-46s %12.1f %7.2fx %12.1f\n", e.name, med, med/base, float64(bytesOut)/1024/float64(len(imgs)))
	}
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
