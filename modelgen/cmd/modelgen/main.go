// Command modelgen writes the ONNX models the project generates itself.
//
//	modelgen -kind builtin -o model/builtin/cartoon.onnx
//	modelgen -kind animeganv2 -layout nhwc -seed 1 -o /tmp/v2.onnx
//	modelgen -kind layernorm -seed 1 -o /tmp/ln.onnx
//	modelgen -kind fixture -fixture swapinvert -layout nchw -range 0,1 -size 64x64 -o f.onnx
package main

import (
	"flag"
	"fmt"
	"os"

	"animegan/modelgen"
)

func main() {
	kind := flag.String("kind", "builtin", "model to write: builtin, animeganv2, layernorm (TensorFlow-style norms, NHWC) or fixture")
	layout := flag.String("layout", "nchw", "image layout for animeganv2 and fixture: nchw or nhwc")
	seed := flag.Uint64("seed", 1, "weight seed for animeganv2")
	fixture := flag.String("fixture", "swapinvert", "fixture kind: swapinvert, twoinputs, grayinput, int64input, grayoutput, multiple16, slow")
	rng := flag.String("range", "-1,1", "fixture value range: -1,1 or 0,1")
	size := flag.String("size", "", "fixture fixed size HxW (default dynamic N, H, W)")
	slow := flag.Int("slow-layers", 0, "convolutions in the slow fixture (0: default)")
	out := flag.String("o", "", "output file (required)")
	flag.Parse()
	if err := run(*kind, *layout, *seed, *fixture, *rng, *size, *slow, *out); err != nil {
		fmt.Fprintln(os.Stderr, "modelgen:", err)
		os.Exit(1)
	}
}

func run(kind, layoutName string, seed uint64, fixture, rng, size string, slow int, out string) error {
	if out == "" {
		return fmt.Errorf("-o FILE is required")
	}
	layout, err := modelgen.ParseLayout(layoutName)
	if err != nil {
		return err
	}
	var data []byte
	switch kind {
	case "builtin", "cartoon":
		data, err = modelgen.Cartoon()
	case "animeganv2":
		data, err = modelgen.AnimeGANv2(layout, seed)
	case "layernorm":
		data, err = modelgen.LayerNormNet(seed)
	case "fixture":
		spec := modelgen.FixtureSpec{Layout: layout, SlowLayers: slow}
		if spec.Kind, err = modelgen.ParseFixtureKind(fixture); err != nil {
			return err
		}
		switch rng {
		case "-1,1":
			spec.Range = modelgen.Signed
		case "0,1":
			spec.Range = modelgen.Unit
		default:
			return fmt.Errorf("unknown range %q (want -1,1 or 0,1)", rng)
		}
		if size != "" {
			if _, err := fmt.Sscanf(size, "%dx%d", &spec.Height, &spec.Width); err != nil {
				return fmt.Errorf("bad -size %q (want HxW): %v", size, err)
			}
		}
		data, err = modelgen.Fixture(spec)
	default:
		return fmt.Errorf("unknown -kind %q (want builtin, animeganv2, layernorm or fixture)", kind)
	}
	if err != nil {
		return err
	}
	return os.WriteFile(out, data, 0o644)
}
