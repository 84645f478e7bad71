package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"
	"text/tabwriter"

	"github.com/tollgate/tollgate/internal/config"
)

func runModels(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("models", "models [--config FILE] [--json]", stderr)
	cfgPath := configFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(modelViews(cfg))
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tALIASES\tROUTES (channel:upstream model)")
	for _, m := range modelViews(cfg) {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", m.Name, orDash(strings.Join(m.Aliases, ",")), strings.Join(m.Routes, " "))
	}
	return tw.Flush()
}

type modelView struct {
	Name    string   `json:"name"`
	Aliases []string `json:"aliases"`
	Routes  []string `json:"routes"`
}

func modelViews(cfg config.Config) []modelView {
	out := make([]modelView, 0, len(cfg.Models))
	for _, m := range cfg.Models {
		v := modelView{Name: m.Name, Aliases: m.Aliases, Routes: []string{}}
		if v.Aliases == nil {
			v.Aliases = []string{}
		}
		for _, r := range m.Routes {
			v.Routes = append(v.Routes, r.Channel+":"+r.Model)
		}
		out = append(out, v)
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// validPattern reports whether p is a usable path.Match pattern.
func validPattern(p string) bool {
	_, err := path.Match(p, "")
	return err == nil
}
