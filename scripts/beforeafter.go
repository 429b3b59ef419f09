//go:build ignore

// beforeafter puts a photo and its result side by side for README.md:
//
//	go run scripts/beforeafter.go testdata/photos/village.jpg out/village.jpg docs/before-after.jpg
package main

import (
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"os"

	"animegan/imageio"
)

func load(path string) *image.NRGBA {
	f, err := os.Open(path)
	if err != nil {
		fail(err)
	}
	defer f.Close()
	img, err := imageio.Decode(f, imageio.DecodeOptions{})
	if err != nil {
		fail(fmt.Errorf("%s: %w", path, err))
	}
	return img.Pixels
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "beforeafter:", err)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 4 {
		fail(fmt.Errorf("usage: beforeafter BEFORE AFTER OUT.jpg"))
	}
	const height, gap = 400, 8
	var tiles []*image.NRGBA
	width := -gap
	for _, p := range os.Args[1:3] {
		img := load(p)
		w := img.Rect.Dx() * height / img.Rect.Dy()
		tiles = append(tiles, imageio.Resize(img, w, height))
		width += w + gap
	}
	dst := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(dst, dst.Bounds(), image.White, image.Point{}, draw.Src)
	x := 0
	for _, t := range tiles {
		draw.Draw(dst, t.Rect.Add(image.Pt(x, 0)), t, image.Point{}, draw.Src)
		x += t.Rect.Dx() + gap
	}
	out, err := os.Create(os.Args[3])
	if err != nil {
		fail(err)
	}
	if err := jpeg.Encode(out, dst, &jpeg.Options{Quality: 88}); err != nil {
		fail(err)
	}
	if err := out.Close(); err != nil {
		fail(err)
	}
}
