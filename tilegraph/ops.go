package tilegraph

// Operators that work element by element (per pixel): their output has
// the broadcast shape of their inputs and looks at nothing around a pixel.
var elementwise = map[string]bool{
	// unary
	"Abs": true, "Acos": true, "Acosh": true, "Asin": true, "Asinh": true, "Atan": true, "Atanh": true,
	"Cast": true, "CastLike": true, "Ceil": true, "Celu": true, "Clip": true, "Cos": true, "Cosh": true,
	"Dropout": true, "Elu": true, "Erf": true, "Exp": true, "Floor": true, "Gelu": true,
	"HardSigmoid": true, "HardSwish": true, "Identity": true, "IsInf": true, "IsNaN": true,
	"LeakyRelu": true, "Log": true, "Mish": true, "Neg": true, "Not": true, "Reciprocal": true,
	"Relu": true, "Round": true, "Selu": true, "Shrink": true, "Sigmoid": true, "Sign": true,
	"Sin": true, "Sinh": true, "Softplus": true, "Softsign": true, "Sqrt": true, "Tan": true,
	"Tanh": true, "ThresholdedRelu": true,
	// n-ary, broadcasting
	"Add": true, "And": true, "BitShift": true, "Div": true, "Equal": true, "Greater": true,
	"GreaterOrEqual": true, "Less": true, "LessOrEqual": true, "Max": true, "Mean": true, "Min": true,
	"Mod": true, "Mul": true, "Or": true, "Pow": true, "PRelu": true, "Sub": true, "Sum": true,
	"Where": true, "Xor": true,
	// quantisation (the QDQ pairs `animegan optimize` writes), per element
	"QuantizeLinear": true, "DequantizeLinear": true, "DynamicQuantizeLinear": true,
	// per-channel affine with fixed statistics
	"BatchNormalization": true,
}

// Operators that slide a window over the spatial axes (2 and up, NCHW).
var windowed = map[string]bool{
	"Conv": true, "ConvInteger": true, "QLinearConv": true, "ConvTranspose": true,
	"AveragePool": true, "MaxPool": true, "LpPool": true, "QLinearAveragePool": true,
}

// Operators that reduce over whole axes.
var reductions = map[string]bool{
	"ReduceMean": true, "ReduceSum": true, "ReduceMax": true, "ReduceMin": true, "ReduceProd": true,
	"ReduceL1": true, "ReduceL2": true, "ReduceLogSum": true, "ReduceLogSumExp": true, "ReduceSumSquare": true,
}

// Operators that pool over every spatial position at once.
var globalPools = map[string]bool{
	"GlobalAveragePool": true, "GlobalMaxPool": true, "GlobalLpPool": true, "QLinearGlobalAveragePool": true,
}

// Operators that work along one axis (attribute "axis") and mix every
// element along it.
var alongAxis = map[string]int64{ // op -> default axis
	"Softmax": -1, "LogSoftmax": -1, "Hardmax": -1, "ArgMax": 0, "ArgMin": 0, "CumSum": 0, "TopK": -1,
	"LpNormalization": -1,
}
