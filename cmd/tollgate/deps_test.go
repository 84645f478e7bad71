package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryLinksNoHeavyStacks keeps out of the tollgate binary the
// packages that once made it 16 MB larger and its resident code about
// 4 MiB larger without being needed: gRPC and the OTLP protobuf types
// (the official OTLP exporter pulls them in; internal/traceexport speaks
// OTLP/HTTP JSON instead).
func TestBinaryLinksNoHeavyStacks(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	forbidden := []string{"google.golang.org/grpc", "go.opentelemetry.io/proto/otlp", "go.opentelemetry.io/otel/exporters/otlp"}
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if pkg == f || strings.HasPrefix(pkg, f+"/") {
				t.Errorf("cmd/tollgate links %s", pkg)
			}
		}
	}
}
