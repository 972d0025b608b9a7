#!/usr/bin/env node
// Interop flow: panva's openid-client (a certified OpenID Connect relying
// party) runs a whole authorization code flow against a running Bulwark
// server, then the token management endpoints, then the negative checks a
// compliant client performs. e2e/interop_test.go starts the server and runs
// this script; it can also be pointed at `bulwark serve --dev` by hand.
//
// Usage (every flag also reads the environment variable in brackets):
//
//   node interop/fapi2-flow.mjs \
//     --issuer http://127.0.0.1:8080          [BULWARK_ISSUER]
//     --client-id fapi-client                 [BULWARK_CLIENT_ID]
//     --jwk-file key.json                     [BULWARK_CLIENT_JWK_FILE]
//        (or the JWK itself as JSON in        [BULWARK_CLIENT_JWK])
//        (or --client-secret S for client_secret_basic [BULWARK_CLIENT_SECRET])
//        (no key or secret with --sender-constraint mtls: the client
//         certificate authenticates the client)
//     --redirect-uri https://app.example/cb   [BULWARK_REDIRECT_URI]
//     --username alice                        [BULWARK_USERNAME]
//     --password secret                       [BULWARK_PASSWORD]
//     --scope "openid profile email"          [BULWARK_SCOPE]
//     --sender-constraint dpop                [BULWARK_SENDER_CONSTRAINT]
//        none (default): Bearer tokens, for standard clients;
//        dpop: every PAR, token and userinfo call carries a DPoP proof
//          (RFC 9449) and the tokens must be DPoP-bound (cnf.jkt);
//        mtls: tls_client_auth over the mtls_endpoint_aliases with the
//          client certificate below; tokens must be certificate-bound
//          (cnf["x5t#S256"], RFC 8705)
//     --ca-file ca.pem                        [BULWARK_CA_FILE]
//        PEM CA certificate(s) trusted for an https issuer (the test CA)
//     --client-cert-file cert.pem             [BULWARK_CLIENT_CERT_FILE]
//     --client-key-file key.pem               [BULWARK_CLIENT_KEY_FILE]
//        PEM client certificate and its PKCS #8 key (mtls)
//     --other-cert-file other.pem             [BULWARK_OTHER_CERT_FILE]
//     --other-key-file other-key.pem          [BULWARK_OTHER_KEY_FILE]
//        optional (mtls): a certificate the tokens are NOT bound to; userinfo
//        must refuse a token presented over a connection with it
//
// The private JWK (ES256 or PS256/EdDSA) authenticates the client with
// private_key_jwt. https, client certificates and custom CAs go through
// undici (its Agent is the dispatcher of openid-client's customFetch). On
// success the script prints a JSON summary on stdout and exits 0; on any
// failure it prints "interop: FAIL: <reason>" on stderr and exits 1.

import { createHash, randomBytes, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import * as client from 'openid-client'

// ---------------------------------------------------------------- inputs

const { values: argv } = parseArgs({
  options: {
    issuer: { type: 'string' },
    'client-id': { type: 'string' },
    'jwk-file': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string' },
    username: { type: 'string' },
    password: { type: 'string' },
    scope: { type: 'string' },
    'sender-constraint': { type: 'string' },
    'ca-file': { type: 'string' },
    'client-cert-file': { type: 'string' },
    'client-key-file': { type: 'string' },
    'other-cert-file': { type: 'string' },
    'other-key-file': { type: 'string' },
  },
  strict: true,
})

function input(flag, env, fallback) {
  const v = argv[flag] ?? process.env[env] ?? fallback
  if (v === undefined || v === '') {
    process.stderr.write(`interop: FAIL: missing --${flag} (or ${env})\n`)
    process.exit(2)
  }
  return v
}

function optionalFile(flag, env) {
  const p = argv[flag] ?? process.env[env]
  return p ? readFileSync(p, 'utf8') : undefined
}

class CheckError extends Error {}

function fail(msg) {
  throw new CheckError(msg)
}

function check(cond, msg) {
  if (!cond) fail(msg)
}

const issuer = input('issuer', 'BULWARK_ISSUER')
const clientId = input('client-id', 'BULWARK_CLIENT_ID')
const redirectUri = input('redirect-uri', 'BULWARK_REDIRECT_URI')
const username = input('username', 'BULWARK_USERNAME')
const password = input('password', 'BULWARK_PASSWORD')
const scope = input('scope', 'BULWARK_SCOPE', 'openid profile email')
const clientSecret = argv['client-secret'] ?? process.env.BULWARK_CLIENT_SECRET
const senderConstraint = input('sender-constraint', 'BULWARK_SENDER_CONSTRAINT', 'none')
if (!['none', 'dpop', 'mtls'].includes(senderConstraint)) {
  process.stderr.write(`interop: FAIL: --sender-constraint ${senderConstraint}: want none, dpop or mtls\n`)
  process.exit(2)
}
const caPEM = optionalFile('ca-file', 'BULWARK_CA_FILE')
const certPEM = optionalFile('client-cert-file', 'BULWARK_CLIENT_CERT_FILE')
const keyPEM = optionalFile('client-key-file', 'BULWARK_CLIENT_KEY_FILE')
const otherCertPEM = optionalFile('other-cert-file', 'BULWARK_OTHER_CERT_FILE')
const otherKeyPEM = optionalFile('other-key-file', 'BULWARK_OTHER_KEY_FILE')
if (senderConstraint === 'mtls' && (!certPEM || !keyPEM)) {
  process.stderr.write('interop: FAIL: --sender-constraint mtls needs --client-cert-file and --client-key-file\n')
  process.exit(2)
}

const pkg = JSON.parse(
  readFileSync(new URL('./node_modules/openid-client/package.json', import.meta.url), 'utf8'),
)

// ------------------------------------------------------------- transport

// Plain http to a loopback issuer uses Node's fetch. A custom CA or a client
// certificate needs a TLS dispatcher: undici's Agent with connect options,
// used through undici's own fetch (openid-client accepts its Response).
const undici = caPEM || certPEM || otherCertPEM ? await import('undici') : undefined

const agents = []
function transport(cert, key) {
  if (!undici) return (url, init) => fetch(url, init)
  const agent = new undici.Agent({ connect: { ca: caPEM, cert, key } })
  agents.push(agent)
  return (url, init) => undici.fetch(url, { ...init, dispatcher: agent })
}

// anonFetch presents no client certificate: the browser, and the negative
// checks of certificate binding.
const anonFetch = transport()

// Everything openid-client sends passes through observe (its customFetch),
// which records the DPoP proofs, the Authorization schemes, the server's
// use_dpop_nonce challenges (RFC 9449 §8 at PAR/token as 400 JSON, §9 at
// userinfo as a 401 WWW-Authenticate challenge) and the token_type the
// server sent before openid-client normalises it.
const observed = {
  requests: [],
  proofs: [],
  nonceChallenges: [],
  successNonces: 0,
  lastNonce: new Map(),
  tokenTypes: [],
}

function decodeJWT(jwt) {
  const [h, p] = jwt.split('.')
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()),
  }
}

// jwkThumbprint is RFC 7638 with SHA-256, computed here independently of
// openid-client.
function jwkThumbprint(jwk) {
  let members
  switch (jwk.kty) {
    case 'EC':
      members = { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      break
    case 'RSA':
      members = { e: jwk.e, kty: jwk.kty, n: jwk.n }
      break
    case 'OKP':
      members = { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
      break
    default:
      fail(`thumbprint of kty ${jwk.kty}`)
  }
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url')
}

function sha256url(s) {
  return createHash('sha256').update(s).digest('base64url')
}

function observe(base) {
  return async (url, init) => {
    const u = new URL(url)
    const headers = new Headers(init?.headers)
    const proof = headers.get('dpop')
    const authorization = headers.get('authorization')
    observed.requests.push({
      origin: u.origin,
      path: u.pathname,
      scheme: authorization ? authorization.split(' ')[0] : undefined,
      proof: proof !== null,
    })
    if (proof) {
      const { header, payload } = decodeJWT(proof)
      observed.proofs.push({
        path: u.pathname,
        typ: header.typ,
        alg: header.alg,
        jkt: jwkThumbprint(header.jwk),
        htm: payload.htm,
        htu: payload.htu,
        jti: payload.jti,
        ath: payload.ath,
        nonce: payload.nonce !== undefined,
        scheme: authorization ? authorization.split(' ')[0] : undefined,
        token: authorization ? authorization.split(' ')[1] : undefined,
      })
    }
    const res = await base(url, init)
    const nonce = res.headers.get('dpop-nonce')
    if (nonce) observed.lastNonce.set(u.origin, nonce)
    const json = /json/.test(res.headers.get('content-type') ?? '')
    if (res.status === 400 && json) {
      const body = await res.clone().json().catch(() => ({}))
      if (body.error === 'use_dpop_nonce') {
        observed.nonceChallenges.push({ endpoint: u.pathname, status: 400, dpop_nonce_header: nonce !== null })
      }
    } else if (res.status === 401 && /use_dpop_nonce/.test(res.headers.get('www-authenticate') ?? '')) {
      observed.nonceChallenges.push({ endpoint: u.pathname, status: 401, dpop_nonce_header: nonce !== null })
    } else if (res.ok) {
      if (nonce) observed.successNonces++
      if (json) {
        const body = await res.clone().json().catch(() => ({}))
        if (typeof body.token_type === 'string' && typeof body.access_token === 'string') {
          observed.tokenTypes.push(body.token_type)
        }
      }
    }
    return res
  }
}

// signProof makes a DPoP proof (RFC 9449 §4.2) outside openid-client, for
// the requests openid-client refuses to make (a Bearer downgrade with a
// proof attached).
async function signProof(keyPair, htm, htu, accessToken, nonce) {
  const jwk = await crypto.subtle.exportKey('jwk', keyPair.publicKey)
  const header = { typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } }
  const payload = {
    jti: randomBytes(16).toString('base64url'),
    htm,
    htu,
    iat: Math.floor(Date.now() / 1000),
    ath: sha256url(accessToken),
    ...(nonce ? { nonce } : {}),
  }
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const signingInput = `${b64(header)}.${b64(payload)}`
  const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keyPair.privateKey, Buffer.from(signingInput))
  return `${signingInput}.${Buffer.from(sig).toString('base64url')}`
}

// challengeError returns the error parameter of a WWW-Authenticate value.
function challengeError(h) {
  return h?.match(/error="([^"]*)"/)?.[1]
}

// ------------------------------------------------- client authentication

// Every client assertion openid-client signs passes through this hook, so
// the summary can show what it sent. A fapi2 client's assertion must carry
// the issuer identifier as a single string `aud` (FAPI 2.0 SP 5.3.2.1-8,
// RFC 7523 bis); openid-client does exactly that by default, and the hook
// fails the run if that ever changes.
const assertions = []
function recordAssertion(header, payload) {
  assertions.push({ alg: header.alg, kid: header.kid, aud: payload.aud, jti: payload.jti })
  check(
    typeof payload.aud === 'string' && payload.aud === issuer,
    `client assertion aud is ${JSON.stringify(payload.aud)}, want the issuer string ${JSON.stringify(issuer)}`,
  )
}

async function importPrivateJWK(jwk) {
  check(jwk && typeof jwk === 'object' && typeof jwk.d === 'string', 'client JWK is not a private JWK')
  let algorithm
  switch (jwk.kty) {
    case 'EC':
      check(jwk.crv === 'P-256', `unsupported EC curve ${jwk.crv}`)
      algorithm = { name: 'ECDSA', namedCurve: 'P-256' }
      break
    case 'RSA':
      algorithm = { name: 'RSA-PSS', hash: 'SHA-256' }
      break
    case 'OKP':
      check(jwk.crv === 'Ed25519', `unsupported OKP curve ${jwk.crv}`)
      algorithm = { name: 'Ed25519' }
      break
    default:
      fail(`unsupported JWK kty ${jwk.kty}`)
  }
  // WebCrypto rejects JWK members it does not know for the algorithm
  // (for example alg "EdDSA"), so import only the key material.
  const { kid, alg: _alg, use: _use, key_ops: _ops, ...material } = jwk
  const key = await crypto.subtle.importKey('jwk', material, algorithm, false, ['sign'])
  return { key, kid }
}

async function clientAuthentication() {
  if (senderConstraint === 'mtls') {
    // tls_client_auth and self_signed_tls_client_auth look the same on the
    // wire (client_id in the body, the certificate in the handshake);
    // openid-client has one helper for both.
    return { method: 'tls_client_auth', auth: client.TlsClientAuth() }
  }
  if (clientSecret) {
    return { method: 'client_secret_basic', auth: client.ClientSecretBasic(clientSecret) }
  }
  const raw =
    process.env.BULWARK_CLIENT_JWK ??
    readFileSync(input('jwk-file', 'BULWARK_CLIENT_JWK_FILE'), 'utf8')
  let jwk
  try {
    jwk = JSON.parse(raw)
  } catch (err) {
    fail(`client JWK is not JSON: ${err.message}`)
  }
  const privateKey = await importPrivateJWK(jwk)
  return {
    method: 'private_key_jwt',
    auth: client.PrivateKeyJwt(privateKey, { [client.modifyAssertion]: recordAssertion }),
  }
}

// ------------------------------------------------------------- the browser

// A minimal user agent for the login and consent pages: manual redirects,
// a cookie jar for one host, and form handling for the server's HTML.
class Browser {
  cookies = new Map()

  async request(url, init = {}) {
    const headers = new Headers(init.headers)
    if (this.cookies.size > 0) {
      headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '))
    }
    const res = await anonFetch(url, { ...init, headers, redirect: 'manual' })
    for (const line of res.headers.getSetCookie()) {
      this.store(line)
    }
    return res
  }

  store(line) {
    const [pair, ...attrs] = line.split(';')
    const eq = pair.indexOf('=')
    if (eq <= 0) return
    const name = pair.slice(0, eq).trim()
    const value = pair.slice(eq + 1).trim()
    let expired = value === ''
    for (const a of attrs) {
      const [k, v = ''] = a.trim().split('=')
      if (k.toLowerCase() === 'max-age' && Number(v) <= 0) expired = true
      if (k.toLowerCase() === 'expires' && Date.parse(v) < Date.now()) expired = true
    }
    if (expired) this.cookies.delete(name)
    else this.cookies.set(name, value)
  }

  // follow sends GET requests along redirects until a page is returned or
  // the server redirects to the client's redirect URI.
  async follow(url, res) {
    for (let hops = 0; ; hops++) {
      check(hops < 10, 'too many redirects')
      if (res === undefined) res = await this.request(url)
      if (![301, 302, 303, 307, 308].includes(res.status)) {
        return { url, res }
      }
      const location = res.headers.get('location')
      check(location, `redirect ${res.status} without Location from ${url}`)
      const next = new URL(location, url)
      if (isCallback(next)) {
        return { callback: next, status: res.status }
      }
      url = next.href
      res = undefined
    }
  }
}

function isCallback(u) {
  const r = new URL(redirectUri)
  return u.origin === r.origin && u.pathname === r.pathname
}

const entities = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }
function htmlUnescape(s) {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e) => {
    if (e[0] === '#') {
      const n = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)
      return String.fromCodePoint(n)
    }
    return entities[e.toLowerCase()] ?? m
  })
}

function attributes(tag) {
  const out = {}
  for (const m of tag.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g)) {
    out[m[1].toLowerCase()] = htmlUnescape(m[2] ?? m[3] ?? m[4] ?? '')
  }
  return out
}

// parseForm finds the page's POST form: its action, its hidden fields
// (csrf_token, handle, ...), the names of its visible inputs, and its
// submit buttons.
function parseForm(html, pageURL) {
  const m = html.match(/<form\b([^>]*)>([\s\S]*?)<\/form>/i)
  if (!m) return undefined
  const formAttrs = attributes(m[1])
  const form = {
    method: (formAttrs.method ?? 'get').toLowerCase(),
    action: new URL(formAttrs.action ?? '', pageURL).href,
    hidden: new URLSearchParams(),
    inputs: [],
    buttons: [],
  }
  for (const t of m[2].matchAll(/<input\b([^>]*)>/gi)) {
    const a = attributes(t[1])
    if ((a.type ?? 'text').toLowerCase() === 'hidden') form.hidden.append(a.name, a.value ?? '')
    else form.inputs.push(a.name)
  }
  for (const t of m[2].matchAll(/<button\b([^>]*)>/gi)) {
    const a = attributes(t[1])
    form.buttons.push({ name: a.name, value: a.value })
  }
  return form
}

function pageText(html) {
  return html.replace(/<style[\s\S]*?<\/style>/gi, '').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 300)
}

// signIn drives the authorization URL through the login and consent pages
// as a user would, approving the request, and returns the callback URL the
// browser would be sent to.
async function signIn(browser, authorizationURL) {
  const pages = []
  let step = await browser.follow(authorizationURL.href)
  for (let i = 0; i < 5; i++) {
    if (step.callback) {
      return { callback: step.callback, pages }
    }
    const html = await step.res.text()
    check(step.res.status === 200, `page ${step.url} returned ${step.res.status}: ${pageText(html)}`)
    const form = parseForm(html, step.url)
    check(form && form.method === 'post', `page ${step.url} has no form: ${pageText(html)}`)
    check(form.hidden.get('csrf_token'), `form on ${step.url} has no CSRF token`)
    const body = new URLSearchParams(form.hidden)
    if (form.inputs.includes('password')) {
      pages.push('login')
      body.set('username', username)
      body.set('password', password)
    } else if (form.buttons.some((b) => b.name === 'decision' && b.value === 'approve')) {
      pages.push('consent')
      body.set('decision', 'approve')
    } else {
      fail(`unexpected form on ${step.url}: ${pageText(html)}`)
    }
    const res = await browser.request(form.action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(form.action).origin },
      body,
    })
    step = await browser.follow(form.action, res)
  }
  fail(`no redirect to the client after pages ${pages.join(', ')}`)
}

// ------------------------------------------------------------------ helpers

async function expectRejection(what, fn, accept) {
  let err
  try {
    await fn()
  } catch (e) {
    err = e
  }
  check(err !== undefined, `${what}: openid-client accepted it`)
  if (err instanceof CheckError) throw err
  const why = accept(err)
  check(why === true, `${what}: unexpected error ${err?.constructor?.name}: ${err?.code ?? ''} ${err?.message}${err?.cause ? ` (cause: ${err.cause.message ?? JSON.stringify(err.cause)})` : ''}`)
  return err
}

function describe(err) {
  return [err.constructor.name, err.code, err.error, err.message, err.cause?.message]
    .filter((x) => typeof x === 'string' && x !== '')
    .join(': ')
}


// oauthError is the OAuth error code of a rejection: the body's error of a
// ResponseBodyError, the challenge's error of a WWWAuthenticateChallengeError.
function oauthError(e) {
  if (e instanceof client.ResponseBodyError) return e.error
  if (e instanceof client.WWWAuthenticateChallengeError) {
    return e.cause?.find((c) => c.parameters?.error)?.parameters.error
  }
  return undefined
}

// rejection is what the summary shows of a refused request. A 401 with a
// WWW-Authenticate challenge that names no error (a token endpoint's Basic
// challenge) still has the error in its JSON body, which openid-client
// leaves unread.
async function rejection(e) {
  let error = oauthError(e)
  if (error === undefined && e instanceof client.WWWAuthenticateChallengeError) {
    error = (await e.response.clone().json().catch(() => ({}))).error
  }
  const challenged = e instanceof client.WWWAuthenticateChallengeError
  return {
    status: e.status,
    error,
    schemes: challenged ? e.cause.map((c) => c.scheme) : undefined,
    www_authenticate: challenged ? e.response.headers.get('www-authenticate') : undefined,
  }
}

// ------------------------------------------------------------------- flow

async function main() {
  const mode = senderConstraint
  const { method, auth } = await clientAuthentication()
  const summary = {
    openid_client_version: pkg.version,
    issuer,
    client_id: clientId,
    auth_method: method,
    sender_constraint: mode,
  }

  // 1. Discovery. allowInsecureRequests permits the http:// loopback
  // issuer tests use; openid-client otherwise requires https. With mtls,
  // use_mtls_endpoint_aliases sends every call that has an alias (PAR,
  // token, userinfo, introspection, revocation) to the mutual-TLS listener,
  // and the customFetch presents the client certificate.
  const clientFetch = mode === 'mtls' ? transport(certPEM, keyPEM) : anonFetch
  const insecure = new URL(issuer).protocol === 'http:'
  const config = await client.discovery(
    new URL(issuer),
    clientId,
    mode === 'mtls' ? { use_mtls_endpoint_aliases: true } : undefined,
    auth,
    {
      // enableNonRepudiationChecks: verify the ID token signatures of token
      // responses against the jwks_uri too (openid-client otherwise relies
      // on TLS for them, OIDC Core §3.1.3.7).
      execute: [...(insecure ? [client.allowInsecureRequests] : []), client.enableNonRepudiationChecks],
      [client.customFetch]: observe(clientFetch),
    },
  )
  const md = config.serverMetadata()
  check(md.issuer === issuer, `metadata issuer ${md.issuer}`)
  check(md.authorization_response_iss_parameter_supported === true, 'metadata: authorization_response_iss_parameter_supported is not true')
  check(md.supportsPKCE('S256'), 'metadata: S256 not in code_challenge_methods_supported')
  check(md.pushed_authorization_request_endpoint, 'metadata: no pushed_authorization_request_endpoint')
  const aliases = md.mtls_endpoint_aliases
  if (mode === 'dpop') {
    check(md.dpop_signing_alg_values_supported?.includes('ES256'), `metadata: dpop_signing_alg_values_supported ${JSON.stringify(md.dpop_signing_alg_values_supported)} lacks ES256`)
  }
  if (mode === 'mtls') {
    check(md.tls_client_certificate_bound_access_tokens === true, 'metadata: tls_client_certificate_bound_access_tokens is not true')
    for (const e of ['token_endpoint', 'pushed_authorization_request_endpoint', 'userinfo_endpoint', 'introspection_endpoint', 'revocation_endpoint']) {
      check(aliases?.[e], `metadata: mtls_endpoint_aliases has no ${e}`)
    }
  }
  summary.metadata = {
    pushed_authorization_request_endpoint: md.pushed_authorization_request_endpoint,
    authorization_response_iss_parameter_supported: md.authorization_response_iss_parameter_supported,
    id_token_signing_alg_values_supported: md.id_token_signing_alg_values_supported,
    dpop_signing_alg_values_supported: md.dpop_signing_alg_values_supported,
    tls_client_certificate_bound_access_tokens: md.tls_client_certificate_bound_access_tokens,
    mtls_endpoint_aliases: aliases,
  }

  // The sender constraint. dpop: an ES256 key pair from openid-client and
  // its DPoP handle (proofs and nonce cache); its thumbprint is checked
  // against RFC 7638 computed here. mtls: the SHA-256 thumbprint of the
  // client certificate's DER (RFC 8705 §3.1).
  let dpopKey, dpop, jkt, dpopKey2, dpop2, jkt2, certThumbprint
  if (mode === 'dpop') {
    dpopKey = await client.randomDPoPKeyPair('ES256')
    dpop = client.getDPoPHandle(config, dpopKey)
    jkt = await dpop.calculateThumbprint()
    const own = jwkThumbprint(await crypto.subtle.exportKey('jwk', dpopKey.publicKey))
    check(jkt === own, `DPoP handle thumbprint ${jkt} != RFC 7638 thumbprint ${own}`)
    // A second key, for the refresh that moves to a new key and for the
    // proofs by the wrong key.
    dpopKey2 = await client.randomDPoPKeyPair('ES256')
    dpop2 = client.getDPoPHandle(config, dpopKey2)
    jkt2 = await dpop2.calculateThumbprint()
    check(jkt2 !== jkt, 'two DPoP keys with one thumbprint')
  }
  if (mode === 'mtls') {
    certThumbprint = createHash('sha256').update(new X509Certificate(certPEM).raw).digest('base64url')
  }
  const withDPoP = (handle = dpop) => (handle ? { DPoP: handle } : undefined)
  const wantTokenType = mode === 'dpop' ? 'dpop' : 'bearer'

  // binding checks a token response (or an introspection response) and
  // returns what the summary shows: token_type compared case-insensitively
  // (RFC 9449 §5; openid-client lower-cases it), cnf of the JWT access
  // token.
  const binding = {}
  function checkBinding(what, tokenType, cnf, wantJkt = jkt) {
    check(tokenType?.toLowerCase() === wantTokenType, `${what}: token_type ${tokenType}, want ${wantTokenType}`)
    let bound
    if (mode === 'dpop') {
      bound = cnf?.jkt === wantJkt
      check(bound, `${what}: cnf ${JSON.stringify(cnf)}, want jkt ${wantJkt}`)
    } else if (mode === 'mtls') {
      bound = cnf?.['x5t#S256'] === certThumbprint
      check(bound, `${what}: cnf ${JSON.stringify(cnf)}, want x5t#S256 ${certThumbprint}`)
    } else {
      bound = false
      check(cnf === undefined, `${what}: unexpected cnf ${JSON.stringify(cnf)} on a Bearer token`)
    }
    binding[what] = { token_type: tokenType, jkt: cnf?.jkt, x5t_s256: cnf?.['x5t#S256'], bound }
  }
  const cnfOf = (at) => decodeJWT(at).payload.cnf

  // 2. PAR with PKCE S256, state and nonce; with DPoP, the PAR request
  // carries a proof, which binds the code to the key (RFC 9449 §10.1).
  const browser = new Browser()
  async function authorize() {
    const codeVerifier = client.randomPKCECodeVerifier()
    const params = {
      redirect_uri: redirectUri,
      scope,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state: client.randomState(),
      nonce: client.randomNonce(),
    }
    const url = await client.buildAuthorizationUrlWithPAR(config, params, withDPoP())
    const requestURI = url.searchParams.get('request_uri')
    check(requestURI?.startsWith('urn:ietf:params:oauth:request_uri:'), `request_uri ${requestURI}`)
    check(
      [...url.searchParams.keys()].sort().join() === 'client_id,request_uri',
      `authorization URL carries more than client_id and request_uri: ${url.search}`,
    )
    // 3. The front channel: login and consent pages.
    const { callback, pages } = await signIn(browser, url)
    const checks = {
      pkceCodeVerifier: codeVerifier,
      expectedState: params.state,
      expectedNonce: params.nonce,
      idTokenExpected: true,
    }
    return { codeVerifier, params, callback, pages, checks }
  }

  const first = await authorize()
  const cb = first.callback.searchParams
  check(cb.get('iss') === issuer, `callback iss ${cb.get('iss')}`)
  summary.authorization = {
    pages: first.pages,
    callback_params: [...cb.keys()].sort(),
  }

  // 4. Code exchange. openid-client validates iss (RFC 9207) and state on
  // the callback, then the ID token (signature against the jwks_uri, iss,
  // aud, exp, iat, nonce) after sending the PKCE verifier.
  const tokens = await client.authorizationCodeGrant(config, first.callback, first.checks, undefined, withDPoP())
  const idClaims = tokens.claims()
  check(idClaims, 'no ID token')
  check(tokens.access_token && tokens.refresh_token, 'token response lacks access or refresh token')
  checkBinding('code_exchange', tokens.token_type, cnfOf(tokens.access_token))
  const idHeader = JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url').toString())
  summary.token = {
    token_type: tokens.token_type,
    expires_in: tokens.expires_in,
    scope: tokens.scope,
    has_refresh_token: true,
  }
  summary.id_token = {
    alg: idHeader.alg,
    iss: idClaims.iss,
    sub: idClaims.sub,
    aud: idClaims.aud,
    nonce_matches: idClaims.nonce === first.params.nonce,
    email: idClaims.email,
  }

  // 5. Userinfo, with the subject checked against the ID token (DPoP: the
  // DPoP scheme and a proof with ath; mtls: over the alias with the
  // certificate).
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub, withDPoP())
  summary.userinfo = { sub: userinfo.sub, email: userinfo.email, name: userinfo.name }
  if (mode === 'dpop') {
    // A new handle of the same key has no nonce cached: a server that
    // demands nonces challenges at userinfo too (401, RFC 9449 §9), and
    // openid-client retries with the nonce it was given.
    const again = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub, { DPoP: client.getDPoPHandle(config, dpopKey) })
    check(again.sub === userinfo.sub, 'userinfo with a fresh DPoP handle: other subject')
    summary.userinfo.fresh_dpop_handle_sub = again.sub
  }

  // 6. Refresh, with the same DPoP key.
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, withDPoP())
  check(refreshed.access_token && refreshed.access_token !== tokens.access_token, 'refresh returned no new access token')
  checkBinding('refresh', refreshed.token_type, cnfOf(refreshed.access_token))
  let refreshToken = refreshed.refresh_token ?? tokens.refresh_token
  summary.refresh = {
    new_access_token: true,
    refresh_token_returned: refreshed.refresh_token !== undefined,
    rotated: refreshToken !== tokens.refresh_token,
  }
  let latest = refreshed.access_token
  let latestHandle = dpop
  let latestJkt = jkt
  if (mode === 'dpop') {
    // 6b. Refresh with a NEW DPoP key. A confidential client's refresh
    // token is bound to its client authentication, not to a DPoP key
    // (RFC 9449 §5): the refresh succeeds and the new access token is bound
    // to the new key. The old key no longer fits it.
    const moved = await client.refreshTokenGrant(config, refreshToken, undefined, { DPoP: dpop2 })
    check(moved.access_token, 'refresh with a new DPoP key: no access token')
    checkBinding('refresh_new_key', moved.token_type, cnfOf(moved.access_token), jkt2)
    if (moved.refresh_token) refreshToken = moved.refresh_token
    const ui2 = await client.fetchUserInfo(config, moved.access_token, idClaims.sub, { DPoP: dpop2 })
    check(ui2.sub === idClaims.sub, 'userinfo with the new DPoP key: other subject')
    const oldKeyErr = await expectRejection(
      'userinfo with the new token and a proof by the old key',
      () => client.fetchUserInfo(config, moved.access_token, idClaims.sub, withDPoP()),
      (e) => e instanceof client.WWWAuthenticateChallengeError,
    )
    summary.refresh.new_dpop_key = {
      jkt: jkt2,
      userinfo_sub: ui2.sub,
      old_key_userinfo: await rejection(oldKeyErr),
    }
    latest = moved.access_token
    latestHandle = dpop2
    latestJkt = jkt2
  }

  // 7. Introspection of the access and refresh tokens: active, and (RFC
  // 9449 §6.2, RFC 8705 §3.2) the same cnf as the token itself.
  const atInfo = await client.tokenIntrospection(config, latest)
  const rtInfo = await client.tokenIntrospection(config, refreshToken, { token_type_hint: 'refresh_token' })
  checkBinding('introspection', atInfo.token_type ?? 'bearer', atInfo.cnf, latestJkt)
  summary.introspection = {
    access_token: { active: atInfo.active, client_id: atInfo.client_id, sub: atInfo.sub, scope: atInfo.scope, token_type: atInfo.token_type, cnf: atInfo.cnf },
    refresh_token: { active: rtInfo.active, client_id: rtInfo.client_id },
  }

  // 8. Revocation of the refresh token revokes the grant: both tokens are
  // inactive afterwards and userinfo refuses the access token.
  await client.tokenRevocation(config, refreshToken, { token_type_hint: 'refresh_token' })
  const atAfter = await client.tokenIntrospection(config, latest)
  const rtAfter = await client.tokenIntrospection(config, refreshToken, { token_type_hint: 'refresh_token' })
  const uiErr = await expectRejection(
    'userinfo after revocation',
    () => client.fetchUserInfo(config, latest, idClaims.sub, withDPoP(latestHandle)),
    (e) => e instanceof client.WWWAuthenticateChallengeError && e.cause?.some((c) => c.parameters?.error === 'invalid_token'),
  )
  summary.revocation = {
    access_token_active_after: atAfter.active,
    refresh_token_active_after: rtAfter.active,
    userinfo_after: describe(uiErr),
  }

  // 9. Client credentials (sender-constrained like the rest).
  const cc = await client.clientCredentialsGrant(config, undefined, withDPoP())
  check(cc.access_token, 'client_credentials: no access token')
  check(cc.refresh_token === undefined && cc.id_token === undefined, 'client_credentials returned a refresh or ID token')
  checkBinding('client_credentials', cc.token_type, cnfOf(cc.access_token))
  const ccInfo = await client.tokenIntrospection(config, cc.access_token)
  summary.client_credentials = {
    token_type: cc.token_type,
    scope: cc.scope,
    introspection_active: ccInfo.active,
    introspection_sub: ccInfo.sub,
    introspection_client_id: ccInfo.client_id,
    introspection_cnf: ccInfo.cnf,
  }

  // 10. Negative checks, on a second authorization in the same browser
  // session (the remembered consent skips the pages).
  const second = await authorize()
  const negative = { second_authorization_pages: second.pages }

  // A callback whose iss names another issuer (mix-up attack, RFC 9207)
  // and one without iss (the metadata promises it) are rejected before the
  // code is sent anywhere.
  const tampered = new URL(second.callback)
  tampered.searchParams.set('iss', 'https://attacker.example')
  const tamperedErr = await expectRejection(
    'callback with a tampered iss',
    () => client.authorizationCodeGrant(config, tampered, second.checks, undefined, withDPoP()),
    (e) => e instanceof client.ClientError && e.code === 'OAUTH_INVALID_RESPONSE' && /"iss"/.test(e.cause?.message ?? e.message),
  )
  negative.tampered_iss_rejected = true
  negative.tampered_iss_error = describe(tamperedErr)
  const noIss = new URL(second.callback)
  noIss.searchParams.delete('iss')
  const noIssErr = await expectRejection(
    'callback without iss',
    () => client.authorizationCodeGrant(config, noIss, second.checks, undefined, withDPoP()),
    (e) => e instanceof client.ClientError && e.code === 'OAUTH_INVALID_RESPONSE' && /"iss"/.test(e.cause?.message ?? e.message),
  )
  negative.missing_iss_rejected = true
  negative.missing_iss_error = describe(noIssErr)
  const wrongState = await expectRejection(
    'callback with an unexpected state',
    () => client.authorizationCodeGrant(config, second.callback, { ...second.checks, expectedState: client.randomState() }, undefined, withDPoP()),
    (e) => e instanceof client.ClientError && e.code === 'OAUTH_INVALID_RESPONSE',
  )
  negative.wrong_state_rejected = true
  negative.wrong_state_error = describe(wrongState)

  // The untouched callback still works: the rejected ones never reached the
  // token endpoint.
  const second1 = await client.authorizationCodeGrant(config, second.callback, second.checks, undefined, withDPoP())
  check(second1.claims()?.sub === idClaims.sub, 'second authorization: different subject')

  // Sender-constraint negatives, with the live tokens of the second
  // authorization.
  let proofless = [0, 0]
  if (mode === 'dpop') {
    const d = {}
    // RFC 9449 §7.2 (downgrade): openid-client without the DPoP option
    // sends the DPoP-bound token with the Bearer scheme; userinfo refuses.
    proofless[0] = observed.requests.length
    const bearerErr = await expectRejection(
      'userinfo with a DPoP-bound token as Bearer',
      () => client.fetchUserInfo(config, second1.access_token, idClaims.sub),
      (e) => e instanceof client.WWWAuthenticateChallengeError,
    )
    d.bearer_downgrade = await rejection(bearerErr)
    // FAPI 2.0 SP 5.3.2.1-4: no Bearer fallback. Token requests of the
    // fapi2 client without a proof are refused, never answered with a
    // Bearer token (openid-client would accept one, failing the check).
    const noProofRefresh = await expectRejection(
      'refresh without a DPoP proof',
      () => client.refreshTokenGrant(config, second1.refresh_token),
      (e) => e instanceof client.ResponseBodyError,
    )
    d.refresh_without_dpop = await rejection(noProofRefresh)
    const noProofCC = await expectRejection(
      'client_credentials without a DPoP proof',
      () => client.clientCredentialsGrant(config),
      (e) => e instanceof client.ResponseBodyError,
    )
    d.client_credentials_without_dpop = await rejection(noProofCC)
    proofless[1] = observed.requests.length
    // The downgrade with a valid proof attached (plain fetch: openid-client
    // never sends Bearer with a proof): the scheme decides.
    const ui = md.userinfo_endpoint
    const proof = await signProof(dpopKey, 'GET', ui, second1.access_token, observed.lastNonce.get(new URL(ui).origin))
    const res = await anonFetch(ui, { headers: { authorization: `Bearer ${second1.access_token}`, dpop: proof } })
    await res.arrayBuffer()
    d.bearer_downgrade_with_proof = { status: res.status, error: challengeError(res.headers.get('www-authenticate')), www_authenticate: res.headers.get('www-authenticate') }
    // A proof signed by another key than the token's cnf.jkt.
    const otherKeyErr = await expectRejection(
      'userinfo with a proof by another key',
      () => client.fetchUserInfo(config, second1.access_token, idClaims.sub, { DPoP: dpop2 }),
      (e) => e instanceof client.WWWAuthenticateChallengeError,
    )
    d.other_key_userinfo = await rejection(otherKeyErr)
    // The token still works with its own key after all that.
    const ok = await client.fetchUserInfo(config, second1.access_token, idClaims.sub, withDPoP())
    d.own_key_userinfo_sub = ok.sub
    negative.dpop = d
  }
  if (mode === 'mtls') {
    const m = {}
    // RFC 8705 §3: a certificate-bound token needs the same certificate on
    // the connection. Plain fetch, Bearer scheme, three connections.
    async function userinfoOver(f, url) {
      const res = await f(url, { headers: { authorization: `Bearer ${second1.access_token}` } })
      const body = await res.text()
      let sub
      try {
        sub = JSON.parse(body).sub
      } catch {}
      return { endpoint: url, status: res.status, error: challengeError(res.headers.get('www-authenticate')), sub }
    }
    m.userinfo_with_cert = await userinfoOver(clientFetch, aliases.userinfo_endpoint)
    // The main listener: the alias requires a certificate in the handshake.
    m.userinfo_without_cert = await userinfoOver(anonFetch, md.userinfo_endpoint)
    if (otherCertPEM) {
      m.userinfo_other_cert = await userinfoOver(transport(otherCertPEM, otherKeyPEM), aliases.userinfo_endpoint)
    }
    // RFC 8705 §2: tls_client_auth without a certificate is invalid_client.
    const bare = new client.Configuration(md, clientId, {}, client.TlsClientAuth())
    bare[client.customFetch] = anonFetch
    if (insecure) client.allowInsecureRequests(bare)
    const noCertErr = await expectRejection(
      'client_credentials without a client certificate',
      () => client.clientCredentialsGrant(bare),
      (e) => e instanceof client.ResponseBodyError || e instanceof client.WWWAuthenticateChallengeError,
    )
    m.token_without_cert = await rejection(noCertErr)
    negative.mtls = m
  }

  // A second redemption of the code fails with invalid_grant and revokes
  // what the first one issued (RFC 6749 §4.1.2).
  const replayErr = await expectRejection(
    'second redemption of a code',
    () => client.authorizationCodeGrant(config, second.callback, second.checks, undefined, withDPoP()),
    (e) => e instanceof client.ResponseBodyError && e.error === 'invalid_grant',
  )
  negative.code_replay_error = replayErr.error
  negative.code_replay_status = replayErr.status
  const replayedInfo = await client.tokenIntrospection(config, second1.access_token)
  negative.code_replay_access_token_active = replayedInfo.active

  if (mode === 'dpop') {
    // RFC 9449 §10.1: the PAR proof bound the code to the first key; a
    // proof by another key cannot redeem it.
    const third = await authorize()
    const otherKeyCode = await expectRejection(
      'code exchange with a DPoP key other than the PAR proof key',
      () => client.authorizationCodeGrant(config, third.callback, third.checks, undefined, { DPoP: dpop2 }),
      (e) => e instanceof client.ResponseBodyError,
    )
    negative.dpop.code_with_other_key = await rejection(otherKeyCode)
  }
  summary.negative = negative
  summary.binding = binding

  // What went over the wire.
  summary.server_token_types = [...new Set(observed.tokenTypes)]
  if (mode === 'dpop') {
    const proofs = observed.proofs
    check(new Set(proofs.map((p) => p.jti)).size === proofs.length, 'openid-client reused a DPoP proof jti')
    check(proofs.every((p) => p.typ === 'dpop+jwt' && p.alg === 'ES256'), 'a DPoP proof without typ dpop+jwt or alg ES256')
    for (const p of proofs) {
      if (p.scheme?.toLowerCase() === 'dpop') {
        check(p.ath === sha256url(p.token), `proof to ${p.path} has ath ${p.ath}, not the hash of its access token`)
      }
    }
    // Every PAR, token and userinfo request openid-client made carried a
    // proof, but for the deliberate proofless negatives.
    const constrained = new Set([md.pushed_authorization_request_endpoint, md.token_endpoint, md.userinfo_endpoint].map((e) => new URL(e).pathname))
    const missing = observed.requests.filter((r, i) => constrained.has(r.path) && !r.proof && (i < proofless[0] || i >= proofless[1]))
    check(missing.length === 0, `requests without a DPoP proof: ${missing.map((r) => r.path).join(', ')}`)
    const userinfoPath = new URL(md.userinfo_endpoint).pathname
    summary.dpop = {
      jkt,
      jkt_matches_rfc7638: true,
      second_key_jkt: jkt2,
      par_with_proof: proofs.some((p) => p.path === new URL(md.pushed_authorization_request_endpoint).pathname),
      all_constrained_requests_with_proof: true,
      userinfo_schemes: [...new Set(observed.requests.filter((r) => r.path === userinfoPath && r.proof).map((r) => r.scheme))],
      proofs: {
        count: proofs.length,
        unique_jti: true,
        with_nonce: proofs.filter((p) => p.nonce).length,
        with_ath: proofs.filter((p) => p.ath !== undefined).length,
        endpoints: [...new Set(proofs.map((p) => `${p.htm} ${p.path}`))].sort(),
        jkts: [...new Set(proofs.map((p) => p.jkt))].sort(),
      },
      nonce: {
        challenges: observed.nonceChallenges,
        as_challenges: observed.nonceChallenges.filter((c) => c.status === 400).length,
        rs_challenges: observed.nonceChallenges.filter((c) => c.status === 401).length,
        success_responses_with_nonce: observed.successNonces,
      },
    }
  }
  if (mode === 'mtls') {
    const aliasOrigin = new URL(aliases.token_endpoint).origin
    summary.mtls = {
      cert_thumbprint: certThumbprint,
      alias_origin: aliasOrigin,
      alias_paths: [...new Set(observed.requests.filter((r) => r.origin === aliasOrigin).map((r) => r.path))].sort(),
      issuer_paths: [...new Set(observed.requests.filter((r) => r.origin !== aliasOrigin).map((r) => r.path))].sort(),
    }
  }

  // Every client assertion carried aud = issuer (checked in the hook) and a
  // fresh jti.
  if (method === 'private_key_jwt') {
    const jtis = new Set(assertions.map((a) => a.jti))
    check(jtis.size === assertions.length, 'openid-client reused a client assertion jti')
    summary.client_assertions = {
      count: assertions.length,
      aud: [...new Set(assertions.map((a) => a.aud))],
      alg: [...new Set(assertions.map((a) => a.alg))],
    }
  }

  summary.ok = true
  return summary
}

try {
  const summary = await main()
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n')
} catch (err) {
  const detail =
    err instanceof CheckError
      ? err.message
      : `${describe(err)}${err.cause && typeof err.cause === 'object' && !(err.cause instanceof Error) ? ` ${JSON.stringify(err.cause)}` : ''}`
  process.stderr.write(`interop: FAIL: ${detail}\n`)
  if (!(err instanceof CheckError) && err?.stack) process.stderr.write(`${err.stack}\n`)
  process.exitCode = 1
} finally {
  await Promise.all(agents.map((a) => a.close()))
}
