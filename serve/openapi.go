package serve

import (
	_ "embed"
	"net/http"
)

// openAPI is the API's OpenAPI 3 document, served at /v1/openapi.json.
//
//go:embed openapi.json
var openAPI []byte

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}
