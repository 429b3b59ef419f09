package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersed lets flags follow the positional arguments, as in
// `animegan convert ./photos -j 4`: urfave/cli stops parsing flags at the
// first positional argument, so the flags of the named command are moved
// in front of its positional arguments. "--" ends the flags as usual.
func interspersed(cmds []*cli.Command, args []string) []string {
	if len(args) < 2 {
		return args
	}
	var cmd *cli.Command
	at := 1
	for ; at < len(args) && cmd == nil; at++ {
		for _, c := range cmds {
			if c.HasName(args[at]) {
				cmd = c
			}
		}
		if cmd == nil && !strings.HasPrefix(args[at], "-") {
			return args // an unknown command: let cli say so
		}
	}
	if cmd == nil {
		return args
	}
	takesValue := map[string]bool{}
	optional := map[string]optionalValue{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		ov, isOptional := f.(optionalValue)
		for _, name := range f.Names() {
			takesValue[name] = !isBool && !isOptional
			if isOptional {
				optional[name] = ov
			}
		}
	}
	out := append([]string{}, args[:at]...)
	var positional []string
	rest := args[at:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case a == "--":
			positional = append(positional, rest[i+1:]...)
			i = len(rest)
		case len(a) > 1 && a[0] == '-':
			out = append(out, a)
			name := strings.TrimLeft(a, "-")
			switch {
			case strings.Contains(name, "="):
			case takesValue[name] && i+1 < len(rest):
				i++
				out = append(out, rest[i])
			case optional[name] != nil && i+1 < len(rest) && optional[name].acceptsNext(rest[i+1]):
				// The flag package takes an optional value only as
				// --flag=value.
				i++
				out[len(out)-1] = a + "=" + rest[i]
			}
		default:
			positional = append(positional, a)
		}
	}
	if len(positional) > 0 {
		out = append(out, "--")
		out = append(out, positional...)
	}
	return out
}
