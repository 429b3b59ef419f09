package synth

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
)

// EncodeJPEG encodes img as a baseline JPEG. When orientation is 1..8 it
// adds an EXIF APP1 segment with that Orientation tag and stores the pixels
// transformed the way a camera would, so that a viewer applying the tag
// shows the upright img again (orientation 6: stored rotated 90°
// counter-clockwise, displayed rotated back clockwise). orientation 0 writes
// no EXIF at all. quality is 1..100.
func EncodeJPEG(img image.Image, quality int, orientation int) ([]byte, error) {
	if orientation < 0 || orientation > 8 {
		return nil, fmt.Errorf("synth: invalid EXIF orientation %d", orientation)
	}
	stored := img
	if orientation > 1 {
		stored = toStored(img, orientation)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, stored, &jpeg.Options{Quality: quality}); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	if orientation == 0 {
		return b, nil
	}
	out := make([]byte, 0, len(b)+64)
	out = append(out, b[:2]...) // SOI
	out = append(out, exifSegment(orientation)...)
	return append(out, b[2:]...), nil
}

// exifSegment is an APP1 "Exif" segment holding a big-endian TIFF header
// and an IFD0 with the single Orientation tag (0x0112, SHORT).
func exifSegment(orientation int) []byte {
	be := binary.BigEndian
	tiff := []byte("MM\x00*")
	tiff = be.AppendUint32(tiff, 8) // IFD0 right after the header
	tiff = be.AppendUint16(tiff, 1) // one entry
	tiff = be.AppendUint16(tiff, 0x0112)
	tiff = be.AppendUint16(tiff, 3) // SHORT
	tiff = be.AppendUint32(tiff, 1) // count
	tiff = be.AppendUint16(tiff, uint16(orientation))
	tiff = be.AppendUint16(tiff, 0)
	tiff = be.AppendUint32(tiff, 0) // no IFD1
	body := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1}
	seg = be.AppendUint16(seg, uint16(len(body)+2))
	return append(seg, body...)
}

// toStored returns the image a camera stores for the upright picture img
// when it writes the given orientation tag: the inverse of what a viewer
// applies. Stored pixel (sx, sy) of a W×H stored image is displayed at:
//
//	1 (sx, sy)          2 (W-1-sx, sy)       3 (W-1-sx, H-1-sy)   4 (sx, H-1-sy)
//	5 (sy, sx)          6 (H-1-sy, sx)       7 (H-1-sy, W-1-sx)   8 (sy, W-1-sx)
func toStored(img image.Image, orientation int) *image.NRGBA {
	b := img.Bounds()
	dw, dh := b.Dx(), b.Dy()
	sw, sh := dw, dh
	if orientation >= 5 {
		sw, sh = dh, dw
	}
	out := image.NewNRGBA(image.Rect(0, 0, sw, sh))
	for sy := 0; sy < sh; sy++ {
		for sx := 0; sx < sw; sx++ {
			var dx, dy int
			switch orientation {
			case 2:
				dx, dy = sw-1-sx, sy
			case 3:
				dx, dy = sw-1-sx, sh-1-sy
			case 4:
				dx, dy = sx, sh-1-sy
			case 5:
				dx, dy = sy, sx
			case 6:
				dx, dy = sh-1-sy, sx
			case 7:
				dx, dy = sh-1-sy, sw-1-sx
			case 8:
				dx, dy = sy, sw-1-sx
			default:
				dx, dy = sx, sy
			}
			c := color.NRGBAModel.Convert(img.At(b.Min.X+dx, b.Min.Y+dy)).(color.NRGBA)
			out.SetNRGBA(sx, sy, c)
		}
	}
	return out
}

// Photo describes one of the demo photos in testdata/photos.
type Photo struct {
	Name          string // file name, e.g. "lake.jpg"
	Seed          int64
	Width, Height int // upright size
	Quality       int // JPEG quality (ignored for PNG)
	Orientation   int // EXIF orientation to store with (0: none)
	PNG           bool
	Cutout        bool // PNG only: transparent rounded-corner cut-out
}

// DemoPhotos are the pictures committed under testdata/photos: mostly JPEG
// 800–1600 px on the long side, one portrait stored sideways with EXIF
// orientation 6, one PNG with transparent regions.
var DemoPhotos = []Photo{
	{Name: "meadow.jpg", Seed: 1, Width: 1600, Height: 1067, Quality: 82},
	{Name: "lake.jpg", Seed: 22, Width: 1280, Height: 853, Quality: 84},
	{Name: "village.jpg", Seed: 17, Width: 1200, Height: 800, Quality: 84},
	{Name: "portrait-exif6.jpg", Seed: 4, Width: 900, Height: 1200, Quality: 84, Orientation: 6},
	{Name: "dusk.jpg", Seed: 25, Width: 1024, Height: 768, Quality: 85},
	{Name: "hills.jpg", Seed: 16, Width: 1440, Height: 960, Quality: 80},
	{Name: "square.jpg", Seed: 14, Width: 1000, Height: 1000, Quality: 85},
	{Name: "cutout.png", Seed: 35, Width: 640, Height: 480, PNG: true, Cutout: true},
}

// Render produces the file content of p.
func (p Photo) Render() ([]byte, error) {
	img := Scene(p.Seed, p.Width, p.Height)
	if !p.PNG {
		return EncodeJPEG(img, p.Quality, p.Orientation)
	}
	if p.Cutout {
		Cutout(img, 0.12)
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Cutout makes img look like a sticker cut out of a photo: everything
// outside a rounded rectangle inset by margin (a fraction of the short
// side) becomes fully transparent, with a soft 2-pixel edge, and a round
// hole in the top-left quarter is transparent too.
func Cutout(img *image.NRGBA, margin float64) {
	b := img.Bounds()
	w, h := float64(b.Dx()), float64(b.Dy())
	m := margin * min(w, h)
	r := m * 1.5
	hx, hy, hr := w*0.22, h*0.25, min(w, h)*0.08
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			px, py := float64(x)+0.5, float64(y)+0.5
			// Signed distance to the rounded rectangle.
			dx := max(m+r-px, px-(w-m-r), 0)
			dy := max(m+r-py, py-(h-m-r), 0)
			d := sqrt(dx*dx+dy*dy) - r
			hole := hr - sqrt((px-hx)*(px-hx)+(py-hy)*(py-hy))
			d = max(d, hole)
			a := clamp01(0.5 - d/2)
			i := img.PixOffset(b.Min.X+x, b.Min.Y+y)
			img.Pix[i+3] = uint8(float64(img.Pix[i+3])*a + 0.5)
			if img.Pix[i+3] == 0 {
				img.Pix[i], img.Pix[i+1], img.Pix[i+2] = 0, 0, 0
			}
		}
	}
}
