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

// withEnvVars lets every flag of the visible commands also come from an
// environment variable (a flag on the command line wins; --help shows the
// name). The name is derived here from the flag's name, not written by
// hand, so a flag added later gets its variable too: ANIMEGAN_<FLAG>, or
// ANIMEGAN_<COMMAND>_<FLAG> when commands give the flag different types
// (convert's --json is stdout-or-a-file, inspect's a switch, profile's a
// file name): one variable must not mean three things, and a summary path
// exported for convert must not become profile's output. Every urfave/cli
// flag type has an EnvVars field, set through reflection so that any type
// (and a wrapper like jsonFlag) is covered. Hidden commands are left
// alone: profile's per-level child gets every setting from its parent's
// command line, and must not pick up a different one from the environment
// it inherits.
func withEnvVars(cmds []*cli.Command) {
	types := map[string]map[reflect.Type]bool{} // flag name → the types commands give it
	visit(cmds, func(_ *cli.Command, f cli.Flag) {
		name := f.Names()[0]
		if types[name] == nil {
			types[name] = map[reflect.Type]bool{}
		}
		types[name][reflect.TypeOf(f)] = true
	})
	visit(cmds, func(c *cli.Command, f cli.Flag) {
		name := f.Names()[0]
		if len(types[name]) > 1 {
			addEnvVar(f, envName(c.Name+"-"+name))
		} else {
			addEnvVar(f, envName(name))
		}
	})
}

// visit calls fn for each flag of the visible commands and their
// subcommands.
func visit(cmds []*cli.Command, fn func(*cli.Command, cli.Flag)) {
	for _, c := range cmds {
		if c.Hidden {
			continue
		}
		for _, f := range c.Flags {
			fn(c, f)
		}
		visit(c.Subcommands, fn)
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
