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
//     --redirect-uri https://app.example/cb   [BULWARK_REDIRECT_URI]
//     --username alice                        [BULWARK_USERNAME]
//     --password secret                       [BULWARK_PASSWORD]
//     --scope "openid profile email"          [BULWARK_SCOPE]
//
// The private JWK (ES256 or PS256/EdDSA) authenticates the client with
// private_key_jwt. On success the script prints a JSON summary on stdout and
// exits 0; on any failure it prints "interop: FAIL: <reason>" on stderr and
// exits 1.

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

const pkg = JSON.parse(
  readFileSync(new URL('./node_modules/openid-client/package.json', import.meta.url), 'utf8'),
)

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
    const res = await fetch(url, { ...init, headers, redirect: 'manual' })
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

// ------------------------------------------------------------------- flow

async function main() {
  const { method, auth } = await clientAuthentication()
  const summary = {
    openid_client_version: pkg.version,
    issuer,
    client_id: clientId,
    auth_method: method,
  }

  // 1. Discovery. allowInsecureRequests permits the http:// loopback
  // issuer tests use; openid-client otherwise requires https.
  const config = await client.discovery(new URL(issuer), clientId, undefined, auth, {
    execute: [client.allowInsecureRequests],
  })
  const md = config.serverMetadata()
  check(md.issuer === issuer, `metadata issuer ${md.issuer}`)
  check(md.authorization_response_iss_parameter_supported === true, 'metadata: authorization_response_iss_parameter_supported is not true')
  check(md.supportsPKCE('S256'), 'metadata: S256 not in code_challenge_methods_supported')
  check(md.pushed_authorization_request_endpoint, 'metadata: no pushed_authorization_request_endpoint')
  summary.metadata = {
    pushed_authorization_request_endpoint: md.pushed_authorization_request_endpoint,
    authorization_response_iss_parameter_supported: md.authorization_response_iss_parameter_supported,
    id_token_signing_alg_values_supported: md.id_token_signing_alg_values_supported,
  }

  // 2. PAR with PKCE S256, state and nonce.
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
    const url = await client.buildAuthorizationUrlWithPAR(config, params)
    const requestURI = url.searchParams.get('request_uri')
    check(requestURI?.startsWith('urn:ietf:params:oauth:request_uri:'), `request_uri ${requestURI}`)
    check(
      [...url.searchParams.keys()].sort().join() === 'client_id,request_uri',
      `authorization URL carries more than client_id and request_uri: ${url.search}`,
    )
    // 3. The front channel: login and consent pages.
    const { callback, pages } = await signIn(browser, url)
    return { codeVerifier, params, callback, pages }
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
  const checks = {
    pkceCodeVerifier: first.codeVerifier,
    expectedState: first.params.state,
    expectedNonce: first.params.nonce,
    idTokenExpected: true,
  }
  const tokens = await client.authorizationCodeGrant(config, first.callback, checks)
  const idClaims = tokens.claims()
  check(idClaims, 'no ID token')
  check(tokens.access_token && tokens.refresh_token, 'token response lacks access or refresh token')
  check(tokens.token_type.toLowerCase() === 'bearer', `token_type ${tokens.token_type}`)
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

  // 5. Userinfo, with the subject checked against the ID token.
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub)
  summary.userinfo = { sub: userinfo.sub, email: userinfo.email, name: userinfo.name }

  // 6. Refresh.
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
  check(refreshed.access_token && refreshed.access_token !== tokens.access_token, 'refresh returned no new access token')
  const refreshToken = refreshed.refresh_token ?? tokens.refresh_token
  summary.refresh = {
    new_access_token: true,
    refresh_token_returned: refreshed.refresh_token !== undefined,
    rotated: refreshToken !== tokens.refresh_token,
  }

  // 7. Introspection of the access and refresh tokens.
  const atInfo = await client.tokenIntrospection(config, refreshed.access_token)
  const rtInfo = await client.tokenIntrospection(config, refreshToken, { token_type_hint: 'refresh_token' })
  summary.introspection = {
    access_token: { active: atInfo.active, client_id: atInfo.client_id, sub: atInfo.sub, scope: atInfo.scope, token_type: atInfo.token_type },
    refresh_token: { active: rtInfo.active, client_id: rtInfo.client_id },
  }

  // 8. Revocation of the refresh token revokes the grant: both tokens are
  // inactive afterwards and userinfo refuses the access token.
  await client.tokenRevocation(config, refreshToken, { token_type_hint: 'refresh_token' })
  const atAfter = await client.tokenIntrospection(config, refreshed.access_token)
  const rtAfter = await client.tokenIntrospection(config, refreshToken, { token_type_hint: 'refresh_token' })
  const uiErr = await expectRejection(
    'userinfo after revocation',
    () => client.fetchUserInfo(config, refreshed.access_token, idClaims.sub),
    (e) => e instanceof client.WWWAuthenticateChallengeError && e.cause?.some((c) => c.parameters?.error === 'invalid_token'),
  )
  summary.revocation = {
    access_token_active_after: atAfter.active,
    refresh_token_active_after: rtAfter.active,
    userinfo_after: describe(uiErr),
  }

  // 9. Client credentials.
  const cc = await client.clientCredentialsGrant(config)
  check(cc.access_token, 'client_credentials: no access token')
  check(cc.refresh_token === undefined && cc.id_token === undefined, 'client_credentials returned a refresh or ID token')
  const ccInfo = await client.tokenIntrospection(config, cc.access_token)
  summary.client_credentials = {
    token_type: cc.token_type,
    scope: cc.scope,
    introspection_active: ccInfo.active,
    introspection_sub: ccInfo.sub,
    introspection_client_id: ccInfo.client_id,
  }

  // 10. Negative checks, on a second authorization in the same browser
  // session (the remembered consent skips the pages).
  const second = await authorize()
  const secondChecks = {
    pkceCodeVerifier: second.codeVerifier,
    expectedState: second.params.state,
    expectedNonce: second.params.nonce,
    idTokenExpected: true,
  }
  const negative = { second_authorization_pages: second.pages }

  // A callback whose iss names another issuer (mix-up attack, RFC 9207)
  // and one without iss (the metadata promises it) are rejected before the
  // code is sent anywhere.
  const tampered = new URL(second.callback)
  tampered.searchParams.set('iss', 'https://attacker.example')
  const tamperedErr = await expectRejection(
    'callback with a tampered iss',
    () => client.authorizationCodeGrant(config, tampered, secondChecks),
    (e) => e instanceof client.ClientError && e.code === 'OAUTH_INVALID_RESPONSE' && /"iss"/.test(e.cause?.message ?? e.message),
  )
  negative.tampered_iss_rejected = true
  negative.tampered_iss_error = describe(tamperedErr)
  const noIss = new URL(second.callback)
  noIss.searchParams.delete('iss')
  const noIssErr = await expectRejection(
    'callback without iss',
    () => client.authorizationCodeGrant(config, noIss, secondChecks),
    (e) => e instanceof client.ClientError && e.code === 'OAUTH_INVALID_RESPONSE' && /"iss"/.test(e.cause?.message ?? e.message),
  )
  negative.missing_iss_rejected = true
  negative.missing_iss_error = describe(noIssErr)
  const wrongState = await expectRejection(
    'callback with an unexpected state',
    () => client.authorizationCodeGrant(config, second.callback, { ...secondChecks, expectedState: client.randomState() }),
    (e) => e instanceof client.ClientError && e.code === 'OAUTH_INVALID_RESPONSE',
  )
  negative.wrong_state_rejected = true
  negative.wrong_state_error = describe(wrongState)

  // The untouched callback still works: the rejected ones never reached the
  // token endpoint. Its second redemption fails with invalid_grant and
  // revokes what the first one issued (RFC 6749 §4.1.2).
  const second1 = await client.authorizationCodeGrant(config, second.callback, secondChecks)
  check(second1.claims()?.sub === idClaims.sub, 'second authorization: different subject')
  const replayErr = await expectRejection(
    'second redemption of a code',
    () => client.authorizationCodeGrant(config, second.callback, secondChecks),
    (e) => e instanceof client.ResponseBodyError && e.error === 'invalid_grant',
  )
  negative.code_replay_error = replayErr.error
  negative.code_replay_status = replayErr.status
  const replayedInfo = await client.tokenIntrospection(config, second1.access_token)
  negative.code_replay_access_token_active = replayedInfo.active
  summary.negative = negative

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
}
