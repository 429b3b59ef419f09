package builtin

import (
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"animegan/internal/ortest"
	"animegan/onnxgraph"
)

func TestEmbeddedModel(t *testing.T) {
	info, err := onnxgraph.Inspect(Cartoon)
	if err != nil {
		t.Fatal(err)
	}
	if info.ProducerName != "animegan-modelgen" || info.Meta("animegan.range") != "-1,1" || info.Meta("animegan.multiple") != "8" {
		t.Errorf("header %q %v", info.ProducerName, info.Metadata)
	}
	ortest.Init(t)
	ins, outs, err := ort.GetInputOutputInfoWithONNXData(Cartoon)
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 1 || ins[0].Name != Input || len(outs) != 1 || outs[0].Name != Output {
		t.Errorf("io %+v -> %+v", ins, outs)
	}
}
