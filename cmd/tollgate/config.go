package main

import (
	"flag"

	"github.com/tollgate/tollgate/internal/config"
)

// configFlag registers --config (and -c) on fs.
func configFlag(fs *flag.FlagSet) *string {
	p := fs.String("config", "", "YAML configuration `file` (default: the embedded defaults)")
	fs.StringVar(p, "c", "", "shorthand for --config")
	return p
}

// loadConfig loads path, or the embedded defaults when path is empty.
func loadConfig(path string) (config.Config, error) {
	if path == "" {
		return config.Embedded()
	}
	return config.Load(path)
}
