package gateway

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/bulwarkauth/bulwark/internal/jose"
)

// WellKnownPath is the RFC 9728 §3 well-known URI suffix of protected
// resource metadata.
const WellKnownPath = "/.well-known/oauth-protected-resource"

// resourceMetadata is the RFC 9728 §2 document.
type resourceMetadata struct {
	Resource                              string   `json:"resource"`
	AuthorizationServers                  []string `json:"authorization_servers"`
	ScopesSupported                       []string `json:"scopes_supported,omitempty"`
	BearerMethodsSupported                []string `json:"bearer_methods_supported"`
	DPoPSigningAlgValuesSupported         []string `json:"dpop_signing_alg_values_supported"`
	DPoPBoundAccessTokensRequired         bool     `json:"dpop_bound_access_tokens_required"`
	TLSClientCertificateBoundAccessTokens bool     `json:"tls_client_certificate_bound_access_tokens"`
	ResourceDocumentation                 string   `json:"resource_documentation,omitempty"`
	ResourceName                          string   `json:"resource_name,omitempty"`
}

// metadataPath is where the metadata of resource id lives on the gateway:
// RFC 9728 §3.1 inserts the well-known suffix "between the host component
// and the path and/or query components" of the identifier
// (https://www.rfc-editor.org/rfc/rfc9728.html#section-3.1).
func metadataPath(id string) string {
	u, err := url.Parse(id)
	if err != nil {
		return WellKnownPath
	}
	return WellKnownPath + strings.TrimSuffix(u.EscapedPath(), "/")
}

// metadataURL is the absolute URL of id's metadata, the resource_metadata
// challenge parameter (RFC 9728 §5.1).
func metadataURL(base *url.URL, id string) string {
	return base.Scheme + "://" + base.Host + metadataPath(id)
}

// metadataDocuments renders the metadata of every resource the gateway
// serves, by local path. The gateway's own resource is also served at the
// bare well-known path, where clients that know only the host look.
func (g *Gateway) metadataDocuments(base *url.URL, resources map[string][]string) (map[string][]byte, error) {
	bearer := map[string]bool{} // resource → some route of it accepts Bearer
	for _, rc := range g.cfg.Routes {
		res := rc.Resource
		if res == "" {
			res = g.cfg.Metadata.Resource
		}
		bearer[res] = bearer[res] || rc.AllowBearer
	}
	docs := map[string][]byte{}
	for id, scopes := range resources {
		md := resourceMetadata{
			Resource:             id,
			AuthorizationServers: []string{g.cfg.Issuer},
			ScopesSupported:      scopes,
			// RFC 6750 §2.1 only: FAPI 2.0 SP §5.3.4-2 forbids the query,
			// and form bodies are refused as well.
			BearerMethodsSupported:                []string{"header"},
			DPoPSigningAlgValuesSupported:         slices.Clone(jose.FAPIAlgorithms),
			DPoPBoundAccessTokensRequired:         g.cfg.RequireDPoP && !bearer[id],
			TLSClientCertificateBoundAccessTokens: !g.cfg.RequireDPoP,
		}
		if id == g.cfg.Metadata.Resource {
			if len(g.cfg.Metadata.ScopesSupported) > 0 {
				md.ScopesSupported = g.cfg.Metadata.ScopesSupported
			}
			md.ResourceDocumentation, md.ResourceName = g.cfg.Metadata.Documentation, g.cfg.Metadata.Name
		}
		slices.Sort(md.ScopesSupported)
		b, err := json.Marshal(md)
		if err != nil {
			return nil, err
		}
		docs[metadataPath(id)] = append(b, '\n')
	}
	if _, ok := docs[WellKnownPath]; !ok {
		docs[WellKnownPath] = docs[metadataPath(g.cfg.Metadata.Resource)]
	}
	return docs, nil
}

// serveMetadata writes a metadata document. It is public, so any origin
// may read it.
func (g *Gateway) serveMetadata(w http.ResponseWriter, r *http.Request, doc []byte) {
	h := w.Header()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "max-age=300")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Content-Length", strconv.Itoa(len(doc)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(doc)
	}
}
