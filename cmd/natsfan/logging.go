package main

import (
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newLogger builds natsfan's logger from NATSFAN_LOG_LEVEL and
// NATSFAN_LOG_FORMAT, writing to w (stderr; writes are serialised). The
// returned AtomicLevel changes the level of the running logger (the HTTP
// server's /loglevel uses it).
func newLogger(cfg *Config, w io.Writer) (*zap.Logger, zap.AtomicLevel, error) {
	return buildLogger(cfg.LogLevel, cfg.LogFormat, zapcore.Lock(zapcore.AddSync(w)))
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
	case "json":
		ec := zap.NewProductionEncoderConfig()
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		ec.EncodeDuration = zapcore.StringDurationEncoder
		enc = zapcore.NewJSONEncoder(ec)
	case "console":
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
