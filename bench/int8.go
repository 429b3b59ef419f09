package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"animegan/model"
	"animegan/optimize"
)

// int8Result is the int8 row of one photo set and size: the optimised
// model's convert time, and how far its outputs are from fp32's.
type int8Result struct {
	convert, median     time.Duration
	meanPSNR, worstPSNR float64
}

// optimizeFor makes the int8 model of c.model calibrated on the set's own
// photos, with the binary and its defaults, as a user would.
func optimizeFor(c config, set photoSet) (string, error) {
	out := filepath.Join(c.cache, fmt.Sprintf("%s.%s.int8.onnx", filepath.Base(c.model), set.name))
	os.Remove(out)
	args := []string{"optimize", c.model, "--calibrate", set.dir, "-o", out, "--method", c.method}
	if c.ortLib != "" {
		args = append(args, "--ort-lib", c.ortLib)
	}
	cmd := exec.Command(c.binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	fmt.Fprintf(os.Stderr, "optimizing %s on the %s photos (--method %s) ...\n", c.model, set.name, c.method)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("optimize: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	os.Stderr.Write(stdout.Bytes())
	return out, nil
}

// int8PSNR runs both models on the images as convert feeds them and
// returns the PSNR of the int8 outputs from the fp32 ones: mean and worst.
func int8PSNR(spec *model.Spec, data []byte, int8Path string, imgs []*image.NRGBA) (mean, worst float64, err error) {
	data8, err := os.ReadFile(int8Path)
	if err != nil {
		return 0, 0, err
	}
	spec8, err := model.Inspect(int8Path, data8, model.Overrides{})
	if err != nil {
		return 0, 0, err
	}
	so := model.DefaultSessionOptions(1, 0)
	a, err := model.NewSession(spec, data, so)
	if err != nil {
		return 0, 0, err
	}
	defer a.Close()
	b, err := model.NewSession(spec8, data8, so)
	if err != nil {
		return 0, 0, err
	}
	defer b.Close()
	worst = math.Inf(1)
	for _, img := range imgs {
		x, err := a.Run(context.Background(), img)
		if err != nil {
			return 0, 0, err
		}
		y, err := b.Run(context.Background(), img)
		if err != nil {
			return 0, 0, err
		}
		p := optimize.PSNR(x, y)
		mean += p / float64(len(imgs))
		worst = min(worst, p)
	}
	return mean, worst, nil
}

func int8Columns(r row) string {
	if r.int8 == nil {
		return "-\t-\t-\t-\t"
	}
	vsTorch := "-"
	if r.torch > 0 {
		vsTorch = fmt.Sprintf("%.2fx", r.torch.Seconds()/r.int8.convert.Seconds())
	}
	return fmt.Sprintf("%s\t%.2fx (medians %.2fx)\t%s\t%.1f / %.1f dB\t", secs(r.int8.convert),
		r.convert.Seconds()/r.int8.convert.Seconds(), r.convertMedian.Seconds()/r.int8.median.Seconds(),
		vsTorch, r.int8.meanPSNR, r.int8.worstPSNR)
}
