package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/urfave/cli/v2"

	"animegan/convert"
	"animegan/model"
	"animegan/model/builtin"
)

// BuiltinModelName is how the built-in model is named in reports.
const BuiltinModelName = "built-in cartoon filter"

type modelChoice struct {
	name      string
	data      []byte
	overrides model.Overrides
}

// loadModel reads --model (or takes the built-in one) and the flags that
// override what a model file cannot say.
func loadModel(c *cli.Context) (modelChoice, error) {
	r, err := model.ParseRange(c.String("range"))
	if err != nil {
		return modelChoice{}, usageError{err}
	}
	if c.Int("multiple") < 0 {
		return modelChoice{}, usageError{fmt.Errorf("--multiple %d: must be positive", c.Int("multiple"))}
	}
	mc := modelChoice{overrides: model.Overrides{Range: r, Multiple: c.Int("multiple")}}
	path := c.String("model")
	if path == "" || path == "builtin" || path == "built-in" {
		mc.name, mc.data = BuiltinModelName, builtin.Cartoon
		return mc, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return modelChoice{}, fmt.Errorf("model %s: %w", path, err)
	}
	if len(data) == 0 {
		return modelChoice{}, fmt.Errorf("model %s: empty file", path)
	}
	mc.name, mc.data = path, data
	return mc, nil
}

// verifiedSpec detects the model's convention and has ONNX Runtime load it
// once, for the commands that make no session of their own (inspect, the
// profile parent): Inspect reads only the file.
func (m modelChoice) verifiedSpec() (*model.Spec, error) {
	spec, err := model.Inspect(m.name, m.data, m.overrides)
	if err != nil {
		return nil, err
	}
	if err := model.Verify(spec, m.data); err != nil {
		return nil, err
	}
	return spec, nil
}

// modelAndJobs reads what every model-running command needs first: the
// model (with its overrides) and -j.
func modelAndJobs(c *cli.Context) (modelChoice, convert.Jobs, error) {
	mdl, err := loadModel(c)
	if err != nil {
		return modelChoice{}, convert.Jobs{}, err
	}
	jobs, err := convert.ParseJobs(c.String("jobs"), runtime.GOMAXPROCS(0))
	if err != nil {
		return modelChoice{}, convert.Jobs{}, usageError{err}
	}
	return mdl, jobs, nil
}
