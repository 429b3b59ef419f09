package synth

import (
	"os"
	"path/filepath"
	"testing"

	"animegan/imageio"
)

func TestPreview(t *testing.T) {
	files, _ := filepath.Glob("../testdata/photos/*")
	for _, f := range files {
		fh, _ := os.Open(f)
		img, err := imageio.Decode(fh, imageio.DecodeOptions{})
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		b := img.Pixels.Bounds()
		w := 800
		h := b.Dy() * w / b.Dx()
		small := imageio.Resize(img.Pixels, w, h)
		out, _ := os.Create("/tmp/synthview/" + filepath.Base(f) + ".png")
		imageio.Encode(out, small, imageio.PNG, 0)
		out.Close()
		t.Log(f, b, img.Orientation, img.HasAlpha)
	}
}
