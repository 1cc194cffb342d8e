package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Log formats, the values of NATSFAN_LOG_FORMAT.
const (
	logFormatAuto    = "auto" // console on a terminal, JSON otherwise
	logFormatJSON    = "json"
	logFormatConsole = "console"
)

// newLogger builds natsfan's logger from NATSFAN_LOG_LEVEL and
// NATSFAN_LOG_FORMAT, writing to w (stderr; writes are serialised). The
// returned AtomicLevel changes the level of the running logger (the HTTP
// server's /loglevel uses it).
func newLogger(cfg *Config, w io.Writer) (*zap.Logger, zap.AtomicLevel, error) {
	format := logFormat(cfg.LogFormat, isTerminal(w))
	return buildLogger(cfg.LogLevel, format, zapcore.Lock(zapcore.AddSync(w)))
}

// logFormat resolves NATSFAN_LOG_FORMAT: auto is console when the log goes
// to a terminal, where a person reads it as it comes, and JSON anywhere
// else (a pipe, a file, a container runtime), where a program is likelier
// to read it. json and console are taken as they are.
func logFormat(setting string, terminal bool) string {
	if setting != logFormatAuto {
		return setting
	}
	if terminal {
		return logFormatConsole
	}
	return logFormatJSON
}

// isTerminal reports whether w is a file open on a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && fileIsTerminal(f)
}

// buildLogger is newLogger from a level and a format.
//
// JSON lines carry "ts" (ISO 8601), "level", "logger", "caller" and "msg".
// Durations are written as Go writes them ("10s", "1m30s", "250ms") in both
// formats, the form of the configuration line and of NATSFAN_ variables,
// rather than zap's production default of a bare number of seconds.
// Stack traces are added only from DPanic up: errors in a sidecar are
// operational, not bugs, and a trace per error would drown them. Like zap's
// production logger it samples: after the first 100 entries with the same
// level and message in a second, only every 100th is kept, so a storm of
// identical events cannot flood the log.
func buildLogger(level, format string, w zapcore.WriteSyncer) (*zap.Logger, zap.AtomicLevel, error) {
	lvl, err := zap.ParseAtomicLevel(level)
	if err != nil {
		return nil, lvl, fmt.Errorf("cannot use log level %q: %w", level, err)
	}
	var enc zapcore.Encoder
	switch format {
	case logFormatJSON:
		ec := zap.NewProductionEncoderConfig()
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		ec.EncodeDuration = zapcore.StringDurationEncoder
		enc = zapcore.NewJSONEncoder(ec)
	case logFormatConsole:
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		ec.EncodeDuration = zapcore.StringDurationEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	default:
		return nil, lvl, fmt.Errorf("cannot use log format %q: expected json or console", format)
	}
	core := zapcore.NewSamplerWithOptions(zapcore.NewCore(enc, w, lvl), time.Second, 100, 100)
	log := zap.New(core,
		zap.AddCaller(),
		zap.AddStacktrace(zapcore.DPanicLevel),
		zap.ErrorOutput(w),
	)
	return log, lvl, nil
}
