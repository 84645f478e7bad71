package config

import (
	"strings"
	"testing"
)

func TestTracingSettings(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string // substring; "" means valid
		wantURL string
	}{
		{name: "off by default", yaml: ""},
		{name: "collector root gets the traces path", yaml: "tracing: {enabled: true, endpoint: \"http://otel:4318\"}", wantURL: "http://otel:4318/v1/traces"},
		{name: "explicit path kept", yaml: "tracing: {enabled: true, endpoint: \"https://otel/custom\"}", wantURL: "https://otel/custom"},
		{name: "ratio above 1", yaml: "tracing: {sample_ratio: 1.5}", wantErr: "tracing.sample_ratio"},
		{name: "not a URL", yaml: "tracing: {endpoint: \"otel:4318\"}", wantErr: "tracing.endpoint"},
		{name: "no service name", yaml: "tracing: {enabled: true, service_name: \"\"}", wantErr: "tracing.service_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml), "test", nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse = %v, want an error naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.yaml == "" && (c.Tracing.Enabled || c.Tracing.ServiceName != "tollgate" || c.Tracing.SampleRatio != 1) {
				t.Errorf("defaults = %+v", c.Tracing)
			}
			if got := c.Tracing.TracesURL(); got != tt.wantURL {
				t.Errorf("TracesURL = %q, want %q", got, tt.wantURL)
			}
		})
	}
}
