// Command animegan turns folders of photos into anime-style images with
// ONNX Runtime, and measures how hard a machine can be pushed doing it.
//
// main.go only wires the command line: each command lives in its own
// cmd_*.go file, and the work in the packages they call.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"animegan/atomicfile"
	"animegan/internal/testhook"
)

// Exit statuses. Scripts depend on them: never renumber.
const (
	exitOK      = 0   // every input converted or already up to date
	exitFailed  = 1   // some inputs failed; the rest are done
	exitSetup   = 2   // usage or setup error: nothing was attempted
	exitSIGINT  = 130 // interrupted (128 + SIGINT)
	exitSIGTERM = 143 // terminated (128 + SIGTERM)
)

// version is the tool's own version, stamped by the Makefile.
var version = "dev"

func main() {
	code := run(os.Args, os.Stdout, os.Stderr)
	testhook.At(testhook.Exiting)
	os.Exit(code)
}

func run(args []string, stdout, stderr io.Writer) int {
	// stderr goes through the sink, which turns every line into JSON
	// under --log-format json.
	sink := &logSink{w: stderr, json: jsonLogRequested(args, os.Getenv)}
	ctx, stop, interrupted := signalContext(sink)
	defer stop()

	cmds := commands()
	withEnvVars(cmds)
	app := &cli.App{
		Name:      "animegan",
		Usage:     "turn photos into anime-style images with ONNX Runtime",
		Version:   version,
		Reader:    os.Stdin,
		Writer:    stdout,
		ErrWriter: sink,
		Commands:  cmds,
		// --version is ours (one line, no ONNX Runtime needed): cli's
		// would also claim -v, which convert uses for --verbose.
		HideVersion: true,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "version", Usage: "print animegan's and Go's versions (the version command adds ONNX Runtime's)"},
		},
		Action: func(c *cli.Context) error {
			if c.Bool("version") {
				fmt.Fprintln(c.App.Writer, versionLine())
				return nil
			}
			if c.NArg() > 0 {
				return usageError{fmt.Errorf("no command %q", c.Args().First())}
			}
			return cli.ShowAppHelp(c)
		},
		// Exit codes are decided below, in one place, not by cli.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return usageError{err}
		},
	}
	err := app.RunContext(ctx, interspersed(app.Commands, args))
	if sig := interrupted(); sig != nil {
		if sig == syscall.SIGTERM {
			return exitSIGTERM
		}
		return exitSIGINT
	}
	return exitCode(err, sink)
}

func commands() []*cli.Command {
	return []*cli.Command{
		convertCommand(),
		inspectCommand(),
		optimizeCommand(),
		versionCommand(),
		reportCommand(),
		profileCommand(),
		profileLevelCmd(),
		completionCommand(),
	}
}

// exitCode maps a command's outcome to the process status.
func exitCode(err error, stderr *logSink) int {
	var ec cli.ExitCoder
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errSomeFailed):
		return exitFailed
	case errors.As(err, &ec) && ec.ExitCode() != 0:
		if msg := err.Error(); msg != "" {
			stderr.errorLine(msg, ec.ExitCode())
		}
		return ec.ExitCode()
	default:
		stderr.errorLine(err.Error(), exitSetup)
		return exitSetup
	}
}

// errSomeFailed is returned by commands whose summary already named every
// failure: there is nothing more to print, only the status to set.
var errSomeFailed = errors.New("some inputs failed")

type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() + " (see --help)" }
func (e usageError) Unwrap() error { return e.err }

// signalContext cancels the returned context on the first SIGINT or
// SIGTERM; work in flight is abandoned cleanly (outputs are atomic, so
// nothing partial stays). A second signal exits at once, after deleting
// the temporary files of the outputs being written (atomicfile.Abandon),
// so that even then no partial file is left.
func signalContext(stderr io.Writer) (context.Context, func(), func() os.Signal) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	got := make(chan os.Signal, 1)
	go func() {
		sig := <-sigs
		got <- sig
		fmt.Fprintf(stderr, "\n%s: stopping; finished outputs are kept (again to quit at once)\n", sig)
		cancel()
		sig = <-sigs
		code := exitSIGINT
		if sig == syscall.SIGTERM {
			code = exitSIGTERM
		}
		atomicfile.Abandon()
		fmt.Fprintf(stderr, "%s: quitting now; unfinished outputs deleted\n", sig)
		os.Exit(code)
	}()
	// stop leaves the handler installed: the process exits right after,
	// and restoring the default action would let a signal arriving in
	// that window kill it by the signal (no exit status 130/143) after
	// its summary was already printed.
	stop := cancel
	interrupted := func() os.Signal {
		select {
		case s := <-got:
			got <- s
			return s
		default:
			return nil
		}
	}
	return ctx, stop, interrupted
}
