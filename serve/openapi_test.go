package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

type apiDoc struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
	Comps   struct {
		Schemas map[string]schema `json:"schemas"`
	} `json:"components"`
}

type schema struct {
	Ref        string            `json:"$ref"`
	Type       string            `json:"type"`
	Required   []string          `json:"required"`
	Properties map[string]schema `json:"properties"`
	Items      *schema           `json:"items"`
	Enum       []string          `json:"enum"`
}

type operation struct {
	Responses map[string]json.RawMessage `json:"responses"`
}

func loadDoc(t *testing.T) *apiDoc {
	t.Helper()
	var d apiDoc
	if err := json.Unmarshal(openAPI, &d); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(d.OpenAPI, "3.") {
		t.Fatalf("openapi %q, want 3.x", d.OpenAPI)
	}
	return &d
}

// docPath is a mux pattern as OpenAPI writes it.
func docPath(pattern string) string { return strings.ReplaceAll(pattern, "...}", "}") }

// TestOpenAPIRoutes: the document lists the server's routes, and only them.
func TestOpenAPIRoutes(t *testing.T) {
	d := loadDoc(t)
	served := map[string]bool{}
	for _, r := range routes {
		key := strings.ToLower(r.method) + " " + docPath(r.pattern)
		served[key] = true
		ops, ok := d.Paths[docPath(r.pattern)]
		if !ok || ops[strings.ToLower(r.method)] == nil {
			t.Errorf("route %s %s is not in openapi.json", r.method, r.pattern)
		}
	}
	for p, ops := range d.Paths {
		for m := range ops {
			if m == "parameters" {
				continue
			}
			if !served[m+" "+p] {
				t.Errorf("openapi.json has %s %s, which the server does not serve", m, p)
			}
		}
	}
}

// TestOpenAPISchemas: each schema's properties are the JSON fields of its
// Go type, and its required ones those the server always writes.
func TestOpenAPISchemas(t *testing.T) {
	d := loadDoc(t)
	for name, v := range map[string]any{
		"RunRequest": RunRequest{}, "FileContent": FileContent{}, "RequestLimits": RequestLimits{},
		"RunResult": RunResult{}, "CollectedFile": CollectedFile{}, "Usage": Usage{},
		"SessionRequest": SessionRequest{}, "Session": Session{}, "Error": ErrorBody{}, "APIError": APIError{},
	} {
		sc, ok := d.Comps.Schemas[name]
		if !ok {
			t.Errorf("no schema %s", name)
			continue
		}
		var fields, always []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			if !rt.Field(i).IsExported() {
				continue // not in the JSON
			}
			tag := rt.Field(i).Tag.Get("json")
			n, opts, _ := strings.Cut(tag, ",")
			fields = append(fields, n)
			if !strings.Contains(opts, "omitempty") {
				always = append(always, n)
			}
		}
		var props []string
		for p := range sc.Properties {
			props = append(props, p)
		}
		sort.Strings(fields)
		sort.Strings(props)
		if !slices.Equal(fields, props) {
			t.Errorf("schema %s has properties %v; the Go type has %v", name, props, fields)
		}
		if strings.HasSuffix(name, "Request") || name == "FileContent" || name == "RequestLimits" {
			continue // requests: required is what the server demands
		}
		req := slices.Clone(sc.Required)
		sort.Strings(req)
		sort.Strings(always)
		if !slices.Equal(req, always) {
			t.Errorf("schema %s requires %v; the server always writes %v", name, req, always)
		}
	}
	if got := d.Comps.Schemas["RunResult"].Properties["status"].Enum; !slices.Equal(got, []string{StatusOK, StatusError, StatusTimeout, StatusOutOfMemory, StatusKilled}) {
		t.Errorf("status enum %v", got)
	}
}

// TestOpenAPIAnswers: real answers of the server have the documented
// status codes and fields.
func TestOpenAPIAnswers(t *testing.T) {
	d := loadDoc(t)
	ts := start(t)
	check := func(method, pattern, path string, body any, schemaName string) {
		t.Helper()
		status, got := ts.call(t, method, path, body)
		var op operation
		json.Unmarshal(d.Paths[docPath(pattern)][strings.ToLower(method)], &op)
		if op.Responses[fmt.Sprint(status)] == nil {
			t.Errorf("%s %s answered %d, which openapi.json does not list", method, pattern, status)
		}
		if schemaName == "" {
			return
		}
		var v any
		if err := json.Unmarshal(got, &v); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		conforms(t, d, fmt.Sprintf("%s %s", method, path), d.Comps.Schemas[schemaName], v)
	}
	check("POST", "/v1/runs", "/v1/runs", RunRequest{Box: "sh", Cmd: []string{"sh", "-c", "echo x > f"}, Collect: []string{"f", "nope"}}, "RunResult")
	check("POST", "/v1/runs", "/v1/runs", `{`, "Error")
	check("POST", "/v1/runs", "/v1/runs", RunRequest{Box: "nope"}, "Error")
	status, body := ts.call(t, "POST", "/v1/sessions", SessionRequest{Box: "sh"})
	if status != http.StatusCreated {
		t.Fatalf("%d %s", status, body)
	}
	var v any
	json.Unmarshal(body, &v)
	conforms(t, d, "POST /v1/sessions", d.Comps.Schemas["Session"], v)
	id := v.(map[string]any)["id"].(string)
	check("GET", "/v1/sessions/{id}", "/v1/sessions/"+id, nil, "Session")
	check("POST", "/v1/sessions/{id}/runs", "/v1/sessions/"+id+"/runs", RunRequest{Cmd: []string{"true"}}, "RunResult")
	check("PUT", "/v1/sessions/{id}/files/{path...}", "/v1/sessions/"+id+"/files/a/b", []byte("x"), "")
	check("GET", "/v1/sessions/{id}/files/{path...}", "/v1/sessions/"+id+"/files/a/b", nil, "")
	check("GET", "/v1/sessions/{id}/files/{path...}", "/v1/sessions/"+id+"/files/a/c", nil, "Error")
	check("DELETE", "/v1/sessions/{id}", "/v1/sessions/"+id, nil, "")
	check("GET", "/v1/sessions/{id}", "/v1/sessions/"+id, nil, "Error")
	check("GET", "/metrics", "/metrics", nil, "")
	check("GET", "/v1/openapi.json", "/v1/openapi.json", nil, "")
}

// conforms checks v against sc: objects have only the listed properties
// and all the required ones, recursively.
func conforms(t *testing.T, d *apiDoc, where string, sc schema, v any) {
	t.Helper()
	if sc.Ref != "" {
		sc = d.Comps.Schemas[strings.TrimPrefix(sc.Ref, "#/components/schemas/")]
	}
	switch x := v.(type) {
	case map[string]any:
		if sc.Type != "object" {
			t.Errorf("%s: an object where the schema has %q", where, sc.Type)
			return
		}
		for k, val := range x {
			p, ok := sc.Properties[k]
			if !ok {
				t.Errorf("%s: field %q is not in the schema", where, k)
				continue
			}
			conforms(t, d, where+"."+k, p, val)
		}
		for _, r := range sc.Required {
			if _, ok := x[r]; !ok {
				t.Errorf("%s: required field %q is missing", where, r)
			}
		}
	case []any:
		if sc.Type != "array" || sc.Items == nil {
			t.Errorf("%s: an array where the schema has %q", where, sc.Type)
			return
		}
		for i, e := range x {
			conforms(t, d, fmt.Sprintf("%s[%d]", where, i), *sc.Items, e)
		}
	case string:
		if sc.Type != "string" {
			t.Errorf("%s: a string where the schema has %q", where, sc.Type)
		}
		if len(sc.Enum) > 0 && !slices.Contains(sc.Enum, x) {
			t.Errorf("%s: %q is not one of %v", where, x, sc.Enum)
		}
	case float64:
		if sc.Type != "integer" && sc.Type != "number" {
			t.Errorf("%s: a number where the schema has %q", where, sc.Type)
		}
	case bool:
		if sc.Type != "boolean" {
			t.Errorf("%s: a boolean where the schema has %q", where, sc.Type)
		}
	}
}
