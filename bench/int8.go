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
	"text/tabwriter"
	"time"

	"animegan/model"
	"animegan/optimize"
)

// int8Result is the int8 row of one photo set and size: the optimised
// model's convert time, and how far its outputs are from fp32's.
type int8Result struct {
	convert, median     time.Duration
	cpu, fp32CPU        time.Duration // median CPU time (user + system) of int8 and fp32 convert
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

// Issue 12's targets for the int8 model, checked on the 512 px rows
// (PSNR on every row).
const (
	targetVsFP32  = 1.7  // int8 convert throughput / fp32 convert's
	targetVsTorch = 2.5  // int8 convert throughput / the PyTorch loop's
	targetMeanDB  = 35.0 // PSNR from fp32, mean
	targetWorstDB = 32.0 // and worst image
)

// printInt8 prints the int8 rows beside fp32's: the same photos and
// sizes, convert with each model, the PyTorch loop, and the PSNR of the
// int8 outputs from the fp32 ones.
func printInt8(rows []row) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Println()
	fmt.Fprintln(w, "photos\tmax-size\timages\tfp32 convert\tint8 convert\tint8 vs fp32 convert\truns\tratio of medians\tCPU fp32 / int8\tPyTorch loop\tfp32 vs PyTorch\tint8 vs PyTorch\tint8 PSNR from fp32 mean / worst\ttargets (issue 12)\t")
	for _, r := range rows {
		if r.int8 == nil {
			continue
		}
		vsFP32 := r.convert.Seconds() / r.int8.convert.Seconds()
		torch, fp32Torch, int8Torch, vsTorch := "-", "-", "-", 0.0
		if r.torch > 0 {
			vsTorch = r.torch.Seconds() / r.int8.convert.Seconds()
			torch, fp32Torch = secs(r.torch), fmt.Sprintf("%.2fx", r.torch.Seconds()/r.convert.Seconds())
			int8Torch = fmt.Sprintf("%.2fx", vsTorch)
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\t%.2fx\t%d\t%.2fx\t%s / %s = %.2fx\t%s\t%s\t%s\t%.1f / %.1f dB\t%s\t\n",
			r.set, r.size, r.images, secs(r.convert), secs(r.int8.convert), vsFP32, r.runs,
			r.convertMedian.Seconds()/r.int8.median.Seconds(),
			secs(r.int8.fp32CPU), secs(r.int8.cpu), r.int8.fp32CPU.Seconds()/r.int8.cpu.Seconds(), torch, fp32Torch, int8Torch,
			r.int8.meanPSNR, r.int8.worstPSNR, targets(r, vsFP32, vsTorch))
	}
	w.Flush()
	fmt.Println("int8 = convert -m the model `animegan optimize` made from the model with its defaults on the set's own photos,")
	fmt.Println("  timed alternately with fp32 convert, the same number of runs; the ratios compare best runs (medians beside);")
	fmt.Println("CPU fp32 / int8 = median user + system time of the whole convert process with each model: the work each")
	fmt.Println("  does, which other load on a shared machine moves less than the wall clock;")
	fmt.Println("int8 vs PyTorch = PyTorch loop time / int8 convert time (throughput ratio);")
	fmt.Println("int8 PSNR = the int8 outputs against the fp32 outputs on every image of the set, as convert feeds them;")
	fmt.Printf("targets = issue 12's: at 512 px int8 convert >= %.1fx fp32 convert and >= %.1fx the PyTorch loop; PSNR mean >= %.0f dB, worst >= %.0f dB.\n",
		targetVsFP32, targetVsTorch, targetMeanDB, targetWorstDB)
}

// targets says which of issue 12's targets a row meets.
func targets(r row, vsFP32, vsTorch float64) string {
	mark := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	psnr := "PSNR " + mark(r.int8.meanPSNR >= targetMeanDB && r.int8.worstPSNR >= targetWorstDB)
	if r.size != 512 {
		return psnr
	}
	torch := "PyTorch not run"
	if vsTorch > 0 {
		torch = fmt.Sprintf("%.1fx PyTorch %s", targetVsTorch, mark(vsTorch >= targetVsTorch))
	}
	return fmt.Sprintf("%.1fx fp32 %s, %s, %s", targetVsFP32, mark(vsFP32 >= targetVsFP32), torch, psnr)
}
