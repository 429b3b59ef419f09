package main

import (
	"fmt"
	"runtime"

	"github.com/urfave/cli/v2"

	"animegan/model"
)

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the versions of animegan, ONNX Runtime and Go",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "ort-lib", Usage: "path of libonnxruntime.so"},
		},
		Action: func(c *cli.Context) error {
			w := c.App.Writer
			fmt.Fprintf(w, "animegan %s\n", version)
			fmt.Fprintf(w, "go %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
			rt, err := model.Load(c.String("ort-lib"))
			if err != nil {
				fmt.Fprintf(w, "onnxruntime: not loaded\n")
				return err
			}
			fmt.Fprintf(w, "onnxruntime %s (%s), %s\n", rt.Version, rt.Library, rt.TelemetryState())
			return nil
		},
	}
}
