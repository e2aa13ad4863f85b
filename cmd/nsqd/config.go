package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"nsqreactor/core"
)

// loadConfig decodes a TOML config file into a generic map: TOML integers
// become int64, floats float64, arrays []any. Unknown keys are kept and later
// ignored by resolve.
func loadConfig(path string) (map[string]any, error) {
	var cfg map[string]any
	if _, err := toml.DecodeFile(path, &cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// translateConfig is upstream's config.Validate: it rewrites the three
// config values whose flag has a custom parser into what resolve expects,
// and fails with upstream's message on the first bad one. cfg may be nil.
func translateConfig(cfg map[string]any) error {
	if v, ok := cfg["tls_required"]; ok {
		var t tlsRequiredOption
		if err := t.Set(fmt.Sprintf("%v", v)); err != nil {
			return fmt.Errorf("failed parsing tls_required %+v", v)
		}
		cfg["tls_required"] = t.String() // "0", "1" or "2"; resolve parses it
	}
	if v, ok := cfg["tls_min_version"]; ok {
		var t tlsMinVersionOption
		if err := t.Set(fmt.Sprintf("%v", v)); err != nil {
			return fmt.Errorf("failed parsing tls_min_version %+v", v)
		}
		if t != 0 {
			cfg["tls_min_version"] = strconv.Itoa(int(t))
		} else {
			delete(cfg, "tls_min_version") // "" means: keep the default
		}
	}
	if v, ok := cfg["log_level"]; ok {
		lvl, err := parseLogLevel(fmt.Sprintf("%v", v))
		if err != nil {
			return fmt.Errorf("failed parsing log_level %+v", v)
		}
		cfg["log_level"] = lvl
	}
	return nil
}

// coerceError is a config value that go-options could not convert; upstream
// log.Fatalf's it (exit 1).
type coerceError struct {
	value   any    // the config value
	current string // the field's value before resolution, as %+v
	field   string // the core.Options field name (upstream's name)
	err     error
}

func (e *coerceError) Error() string {
	return fmt.Sprintf("ERROR: Resolve failed to coerce value %v (%s) for field %s - %s",
		e.value, e.current, e.field, e.err)
}

// panicError is a config value on which upstream crashes with a Go panic
// (a non-string element in a string list, a non-float element in a float
// list); we print the panic's first line and exit 2 like the crash, but
// without the goroutine dump.
type panicError struct{ msg string }

func (e *panicError) Error() string { return "panic: " + e.msg }

// reportResolveError writes resolve's error the way upstream's process dies
// of it and returns the exit status.
func reportResolveError(w io.Writer, err error) int {
	var pe *panicError
	if errors.As(err, &pe) {
		fmt.Fprintf(w, "%s\n", pe.Error())
		return 2
	}
	stdLogger(w).Print(err.Error())
	return 1
}

// resolve sets every opts field that has a flag tag, in field order (so the
// first failing field is upstream's first failing field), from: the flag if
// it was given on the command line, else the config value named by the cfg
// tag (default: the flag name with - → _), else the flag's default. A value
// whose type differs from the field's is converted with go-options' rules
// (coerce). This is mreiferson/go-options v1.0.0 Resolve.
func resolve(opts *core.Options, fs *flag.FlagSet, cfg map[string]any) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	val := reflect.ValueOf(opts).Elem()
	typ := val.Type()
	for i := range typ.NumField() {
		field := typ.Field(i)
		flagName := field.Tag.Get("flag")
		if flagName == "" || flagName == "-" {
			continue
		}
		cfgName := field.Tag.Get("cfg")
		if cfgName == "" {
			cfgName = strings.ReplaceAll(flagName, "-", "_")
		}
		f := fs.Lookup(flagName)
		if f == nil {
			panic(fmt.Sprintf("core.Options.%s: flag %q is not registered", field.Name, flagName))
		}

		v := f.Value.(flag.Getter).Get()
		if cv, ok := cfg[cfgName]; ok && !given[flagName] {
			v = cv
		}
		fv := val.Field(i)
		if reflect.TypeOf(v) != fv.Type() {
			c, err := coerce(v, fv.Type())
			if err != nil {
				var pe *panicError
				if errors.As(err, &pe) {
					return err
				}
				return &coerceError{value: v, current: fmt.Sprintf("%+v", fv), field: field.Name, err: err}
			}
			v = c
		}
		fv.Set(reflect.ValueOf(v).Convert(fv.Type()))
	}
	return nil
}

var (
	durationType    = reflect.TypeFor[time.Duration]()
	stringSliceType = reflect.TypeFor[[]string]()
	floatSliceType  = reflect.TypeFor[[]float64]()
)

// coerce converts a config value to type t with go-options' rules:
//
//   - bool: string via strconv.ParseBool; an integer is true iff it is 0
//     (upstream's inverted quirk: snappy = 0 enables snappy);
//   - integers: integer, or a base-10 string;
//   - time.Duration: Go duration string, or an integer in milliseconds;
//   - string: anything, through fmt's %s (so 5 becomes "%!s(int64=5)");
//   - []string: a comma-separated string or an array of strings; any other
//     type yields an empty list;
//   - []float64: a comma-separated string (spaces trimmed) or an array of
//     floats; any other type yields an empty list.
func coerce(v any, t reflect.Type) (any, error) {
	switch t {
	case durationType:
		switch v := v.(type) {
		case string:
			return time.ParseDuration(v)
		case int64:
			return time.Duration(v) * time.Millisecond, nil
		}
		return nil, fmt.Errorf("invalid time.Duration value type %T", v)
	case stringSliceType:
		return coerceStringSlice(v)
	case floatSliceType:
		return coerceFloatSlice(v)
	}
	switch t.Kind() {
	case reflect.Bool:
		switch v := v.(type) {
		case string:
			return strconv.ParseBool(v)
		case int64:
			return v == 0, nil
		}
		return nil, fmt.Errorf("invalid bool value type %T", v)
	case reflect.Int, reflect.Int64, reflect.Uint16:
		switch v := v.(type) {
		case string:
			return strconv.ParseInt(v, 10, 64)
		case int64:
			return v, nil
		case int:
			return int64(v), nil
		}
		return nil, fmt.Errorf("invalid int64 value type %T", v)
	case reflect.String:
		return fmt.Sprintf("%s", v), nil
	}
	return nil, fmt.Errorf("invalid value type %T", v)
}

func coerceStringSlice(v any) ([]string, error) {
	var out []string
	switch v := v.(type) {
	case string:
		out = strings.Split(v, ",")
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, &panicError{fmt.Sprintf("interface conversion: interface {} is %T, not string", e)}
			}
			out = append(out, s)
		}
	}
	return out, nil
}

func coerceFloatSlice(v any) ([]float64, error) {
	var out []float64
	switch v := v.(type) {
	case string:
		for _, s := range strings.Split(v, ",") {
			f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return nil, err
			}
			out = append(out, f)
		}
	case []any:
		for _, e := range v {
			f, ok := e.(float64)
			if !ok {
				return nil, &panicError{fmt.Sprintf("interface conversion: interface {} is %T, not float64", e)}
			}
			out = append(out, f)
		}
	}
	return out, nil
}
