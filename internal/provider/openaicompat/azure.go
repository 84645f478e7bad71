package openaicompat

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/tollgate/tollgate/internal/jsonpeek"
	"github.com/tollgate/tollgate/internal/provider"
)

// API styles of an OpenAI-compatible upstream.
const (
	// StyleOpenAI posts to {base}/{endpoint} with "Authorization: Bearer".
	StyleOpenAI = "openai"
	// StyleAzure is Azure OpenAI: the base is the resource's root
	// (https://RESOURCE.openai.azure.com), requests go to
	// {base}/openai/deployments/{deployment}/{endpoint}?api-version=V, where
	// the deployment is the request's (upstream) model name, and the key
	// is sent as "api-key".
	StyleAzure = "azure"
)

// DefaultAzureAPIVersion is the api-version used when none is configured.
const DefaultAzureAPIVersion = "2024-10-21"

// azureStyle holds what the Azure style adds to each request.
type azureStyle struct {
	query string // the encoded api-version query
	key   string // the api-key header value; "" sends none
}

func newAzureStyle(opts Options) *azureStyle {
	v := opts.APIVersion
	if v == "" {
		v = DefaultAzureAPIVersion
	}
	return &azureStyle{query: url.Values{"api-version": {v}}.Encode(), key: opts.APIKey.Reveal()}
}

func (z *azureStyle) authorize(h http.Header) {
	if z.key != "" {
		h.Set("api-key", z.key)
	}
}

// url returns where req goes: the endpoint below the base for the OpenAI
// style, the deployment's endpoint for the Azure style.
func (a *Adapter) url(req *provider.Request) (string, error) {
	if a.azure == nil {
		return a.base + "/" + string(req.Endpoint), nil
	}
	deployment, err := bodyModel(req.Body)
	if err != nil {
		return "", &provider.Error{Kind: provider.KindStatus, Status: http.StatusBadRequest, Channel: a.channel,
			Type: "invalid_request_error", Code: "invalid_value",
			Message: "an Azure OpenAI request needs a model naming the deployment: " + err.Error()}
	}
	return a.base + "/openai/deployments/" + url.PathEscape(deployment) + "/" + string(req.Endpoint) + "?" + a.azure.query, nil
}

// bodyModel peeks the "model" of a request body.
func bodyModel(body []byte) (string, error) {
	obj, err := jsonpeek.Parse(body)
	if err != nil {
		return "", fmt.Errorf("the body is not a JSON object: %w", err)
	}
	m, ok, err := obj.String("model")
	if err != nil || !ok || m == "" {
		return "", fmt.Errorf("the body has no model")
	}
	return m, nil
}
