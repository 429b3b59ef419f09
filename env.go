package main

import (
	"reflect"
	"strings"

	"github.com/urfave/cli/v2"
)

// envPrefix starts the environment variable of every flag.
const envPrefix = "ANIMEGAN_"

// envName is a flag's environment variable: --max-size → ANIMEGAN_MAX_SIZE.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// withEnvVars lets every flag of the visible commands also come from
// ANIMEGAN_<FLAG> (a flag on the command line wins; --help shows the name).
// The name is derived here from the flag's name, not written by hand, so a
// flag added later gets its variable too: every urfave/cli flag type has an
// EnvVars field, set through reflection so that any type (and a wrapper
// like jsonFlag) is covered. Names a flag already reads (none today) are
// kept after ours. Hidden commands are left alone: profile's per-level
// child gets every setting from its parent's command line, and must not
// pick up a different one from the environment it inherits.
func withEnvVars(cmds []*cli.Command) {
	for _, c := range cmds {
		if c.Hidden {
			continue
		}
		for _, f := range c.Flags {
			addEnvVar(f, envName(f.Names()[0]))
		}
		withEnvVars(c.Subcommands)
	}
}

func addEnvVar(f cli.Flag, name string) {
	v := reflect.ValueOf(f)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return
	}
	field := v.FieldByName("EnvVars")
	if !field.IsValid() || !field.CanSet() || field.Type() != reflect.TypeOf([]string(nil)) {
		return
	}
	have := field.Interface().([]string)
	for _, h := range have {
		if h == name {
			return
		}
	}
	field.Set(reflect.ValueOf(append([]string{name}, have...)))
}
