package model

import (
	"animegan/onnxgraph"
)

// fileFacts are what an ONNX file says of itself besides its inputs and
// outputs: producer, opset, IR version, metadata and the size of the
// weights. ONNX Runtime reports only part of this, and only by building a
// whole session, which costs a large model a noticeable share of a short
// batch's start-up.
type fileFacts struct {
	IRVersion       int64
	Opsets          []Opset
	Producer        string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	DocString       string
	GraphName       string
	Metadata        []KeyValue
	Initializers    int // weight initializers and Constant tensors
	Parameters      int64
	WeightBytes     int64
	ExternalWeights bool
	// Quantization names how the model is quantised, "" when it is not:
	// "int8 (QDQ)" for QuantizeLinear/DequantizeLinear pairs, "int8
	// (QOperator)" for QLinearConv and its kin.
	Quantization string
}

// Opset is one operator set the model imports.
type Opset = onnxgraph.Opset

func readFileFacts(data []byte) (fileFacts, error) {
	m, err := onnxgraph.ReadGraph(data)
	if err != nil {
		return fileFacts{}, err
	}
	return factsOf(m), nil
}

func factsOf(m *onnxgraph.Info) fileFacts {
	f := fileFacts{
		IRVersion: m.IRVersion, Opsets: m.OpsetList, Producer: m.ProducerName,
		ProducerVersion: m.ProducerVersion, Domain: m.Domain, ModelVersion: m.ModelVersion,
		DocString: m.DocString, GraphName: m.Graph.Name,
	}
	for _, kv := range m.Metadata {
		f.Metadata = append(f.Metadata, KeyValue{kv.Key, kv.Value})
	}
	var qdq, qop bool
	for _, n := range m.Graph.Nodes {
		switch n.OpType {
		case "QuantizeLinear", "DequantizeLinear":
			qdq = true
		case "QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger":
			qop = true
		}
	}
	switch {
	case qdq:
		f.Quantization = "int8 (QDQ)"
	case qop:
		f.Quantization = "int8 (QOperator)"
	}
	for _, t := range m.Graph.Inits {
		f.addTensor(t)
	}
	for _, n := range m.Graph.Nodes {
		if n.OpType != "Constant" {
			continue
		}
		// Exporters such as PyTorch's fold some weights into Constant
		// nodes instead of initializers.
		for _, a := range n.Attrs {
			if a.T != nil {
				f.addTensor(a.T)
			}
		}
	}
	return f
}

// addTensor counts a weight tensor: floating-point ones, and in a
// quantised model the 8-bit and int32 ones it keeps its weights, zero
// points and biases in. Other integer tensors are shapes, pads and axes,
// not parameters.
func (f *fileFacts) addTensor(t *onnxgraph.Tensor) {
	if t.External {
		f.ExternalWeights = true
	}
	quantised := f.Quantization != "" && (t.DType == onnxgraph.Int8 || t.DType == onnxgraph.Uint8 || t.DType == onnxgraph.Int32)
	switch {
	case t.DType.IsFloat(), quantised:
	default:
		return
	}
	f.Initializers++
	f.Parameters += t.Len()
	f.WeightBytes += t.Len() * t.DType.Size()
}
