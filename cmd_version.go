package main

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/urfave/cli/v2"

	"animegan/imageio"
	"animegan/model"
)

func formatList(fs []imageio.Format) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return strings.Join(s, " ")
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the versions of animegan, Go and ONNX Runtime",
		Description: `Prints animegan's and Go's versions, then ONNX Runtime's. When ONNX Runtime
cannot be loaded, the first two lines are still printed, the third says so, the
reason goes to stderr and the exit status is 2 (convert would fail the same way):
a script can use it as a health check.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "ort-lib", TakesFile: true, Usage: "path of libonnxruntime.so"},
		},
		Action: func(c *cli.Context) error {
			w := c.App.Writer
			fmt.Fprintf(w, "animegan %s\n", version)
			fmt.Fprintf(w, "go %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
			fmt.Fprintf(w, "formats: read %s; write %s\n", formatList(imageio.ReadFormats()), formatList(imageio.WriteFormats()))
			if f := imageio.Features(); len(f) > 0 {
				fmt.Fprintf(w, "features: %s\n", strings.Join(f, ", "))
			} else {
				fmt.Fprintf(w, "features: none (built without the optional C libraries)\n")
			}
			rt, err := model.Load(c.String("ort-lib"))
			if err != nil {
				fmt.Fprintf(w, "onnxruntime: not loaded (the reason is on stderr)\n")
				return err
			}
			fmt.Fprintf(w, "onnxruntime %s (%s), %s\n", rt.Version, rt.Library, rt.TelemetryState())
			return nil
		},
	}
}

// versionLine is what --version prints: no library is loaded for it.
func versionLine() string {
	return fmt.Sprintf("animegan %s (%s %s/%s)", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
