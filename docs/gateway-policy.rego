# Example policy for a `bulwark gateway` route (OPA Rego, v1 syntax).
#
# A route runs it when its configuration names it:
#
#   gateway:
#     routes:
#       - name: accounts
#         path_prefix: /accounts
#         upstream: https://accounts.internal:8443
#         scopes: [accounts]
#         policy: /etc/bulwark/gateway-policy.rego
#         policy_headers: [X-Tenant]
#
# When it runs. The policy is phase 4 of the gateway's pipeline: it sees
# only requests whose access token already passed every check of phases
# 2 and 3 (signature or introspection, iss, aud, exp/nbf, the DPoP proof
# or client certificate the token is bound to, and the route's scopes and
# audiences). The policy adds rules on top; it cannot let through a
# request those checks refused.
#
# What it decides. The gateway asks for data.<package>.allow, here
# data.bulwark.accounts.allow. The request is proxied only when that value
# is the boolean true: undefined, false, or any other value ("true", 1, a
# set) answers 403 access_denied. A policy that fails to evaluate (a
# runtime error, such as two complete rules giving allow different
# values) is never a pass either: the request gets 500 server_error and
# the gateway logs the cause.
#
# What it cannot do. The policy is compiled without http.send,
# net.lookup_ip_addr and opa.runtime (which would expose the process
# environment), and with no network access: a file using them does not
# load, and the gateway does not start. It is evaluated in-process for
# every request, so keep it to comparisons on the input.
#
# The input document:
#
#   input.method      "GET", "POST", ... exactly as received (methods are
#                     case-sensitive, so "get" is not "GET").
#   input.path        The decoded request path as received, before
#                     strip_prefix, e.g. "/accounts/42". It is always clean:
#                     requests with empty, "." or ".." segments (also
#                     encoded, %2e%2e, %2F) were already refused with 400.
#   input.route       The route's name (path_prefix when it has none), so
#                     one file can serve several routes.
#   input.headers     Only the request headers listed in the route's
#                     policy_headers, keyed by lower-case name; several
#                     values of one header arrive joined with ", ".
#                     Authorization, DPoP, Cookie and Proxy-Authorization
#                     can never be listed. A header the request lacks is
#                     absent, so a rule reading it is undefined (false).
#   input.token.sub        The token's subject.
#   input.token.client_id  The client the token was issued to.
#   input.token.iss        The issuer; always the configured one.
#   input.token.scopes     The granted scopes, a list (possibly empty).
#   input.token.aud        The audiences, a list.
#   input.token.exp        Expiry in seconds since the epoch; 0 when an
#                          introspection answer gave none.
#   input.token.claims     Every claim of the JWT access token or member
#                          of the introspection answer, as JSON.
#   input.binding.type     "dpop", "mtls" or "bearer" (only on routes with
#                          allow_bearer).
#   input.binding.jkt      The DPoP key thumbprint (cnf.jkt) for "dpop".
#   input.binding.x5t      The certificate thumbprint (cnf["x5t#S256"])
#                          for "mtls".
#
# Try it offline with the OPA 1.x CLI and an input file:
#
#   opa eval -d docs/gateway-policy.rego -i input.json data.bulwark.accounts.allow
#
# internal/gateway/policy_test.go evaluates this file against a table of
# requests and tokens, so the example stays correct.
package bulwark.accounts

# Deny by default: a request is allowed only when one of the allow rules
# below holds. Without this line allow would be undefined instead of
# false for other requests, which the gateway treats the same way; the
# default makes the intent explicit and `opa eval` output readable.
default allow := false

# Reads: any token granted the accounts scope may read. Route scopes
# already demand it when the route lists scopes: [accounts]; repeating it
# here keeps the policy correct on a route that does not.
allow if {
	input.method in read_methods
	"accounts" in input.token.scopes
}

# Writes (except DELETE): the token must be sender-constrained and the
# request must name the caller's own tenant.
allow if {
	input.method in write_methods
	write_allowed
}

# DELETE: as a write, only on a single account (/accounts/<id>, not the
# collection), and only by the back-office client.
allow if {
	input.method == "DELETE"
	write_allowed
	single_account
	input.token.client_id in back_office_clients
}

read_methods := {"GET", "HEAD"}

write_methods := {"POST", "PUT", "PATCH"}

back_office_clients := {"back-office"}

write_allowed if {
	"accounts" in input.token.scopes
	sender_constrained
	tenant_matches
}

# sender_constrained holds for a DPoP-bound or certificate-bound token.
# The gateway has already checked the proof or certificate against the
# thumbprint, so the policy only looks at the kind of binding. On a route
# with allow_bearer this is what keeps unbound (Bearer) tokens read-only.
sender_constrained if {
	input.binding.type == "dpop"
	input.binding.jkt != ""
}

sender_constrained if {
	input.binding.type == "mtls"
	input.binding.x5t != ""
}

# tenant_matches holds when the X-Tenant header (listed in
# policy_headers) equals the token's tenant claim. A token without the
# claim, a request without the header, a non-string claim and a header
# sent twice ("acme, globex") all fail the comparison.
tenant_matches if {
	tenant := input.headers["x-tenant"]
	tenant != ""
	tenant == input.token.claims.tenant
}

# single_account holds for /accounts/<id>: exactly two non-empty path
# segments, the first "accounts". The gateway refuses empty segments
# before the policy runs, but the check does not rely on it.
single_account if {
	parts := split(trim_prefix(input.path, "/"), "/")
	count(parts) == 2
	parts[0] == "accounts"
	parts[1] != ""
}
