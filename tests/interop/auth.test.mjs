// @commercelayer/js-auth (the official client, unmodified) against a running portal's authorization server.
// Run by tests/interop/test_js_auth.py, which starts the portal and passes CL_AUTH_INTEROP (JSON).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  authenticate, createAssertion, revoke, jwtDecode, jwtVerify, getTokenType,
  getCoreApiBaseEndpoint, getProvisioningApiBaseEndpoint, jwtIsUser, InvalidTokenError
} from '@commercelayer/js-auth'

const env = JSON.parse(process.env.CL_AUTH_INTEROP)
const domain = env.domain

// js-auth calls https://auth.<domain>/oauth/token and, from the token's `iss`, /oauth/revoke and
// /.well-known/jwks.json: send them to the local portal.
const realFetch = globalThis.fetch
globalThis.fetch = (input, init) => {
  const url = String(input instanceof Request ? input.url : input).replace(`https://auth.${domain}`, env.base)
  return realFetch(url, init)
}

function ok (auth) {
  assert.equal(auth.errors, undefined, JSON.stringify(auth.errors))
  return auth
}

const login = () => authenticate('password', {
  clientId: env.sales.client_id, username: env.customer.email, password: env.customer.password, domain
})

test('client_credentials: sales channel guest token with a market scope', async () => {
  const auth = ok(await authenticate('client_credentials', { clientId: env.sales.client_id, scope: 'market:code:main', domain }))
  assert.equal(auth.tokenType, 'bearer')
  assert.equal(auth.scope, 'market:code:main')
  assert.equal(auth.expiresIn, 14400)
  assert.ok(auth.expires instanceof Date)
  const { header, payload } = jwtDecode(auth.accessToken)
  assert.equal(header.alg, 'RS512')
  assert.equal(getTokenType(payload), 'sales_channel:guest')
  assert.equal(payload.organization.slug, env.org_slug)
  assert.equal(payload.market.id.length, 1)
  assert.equal(getCoreApiBaseEndpoint(auth.accessToken), `https://${env.org_slug}.${domain}`)
})

test('client_credentials: integration token is market:all', async () => {
  const auth = ok(await authenticate('client_credentials', { clientId: env.integration.client_id, clientSecret: env.integration.client_secret, domain }))
  assert.equal(auth.scope, 'market:all')
  assert.equal(getTokenType(jwtDecode(auth.accessToken).payload), 'integration:guest')
})

test('client_credentials: provisioning (user) credentials', async () => {
  const auth = ok(await authenticate('client_credentials', { clientId: env.provisioning.client_id, clientSecret: env.provisioning.client_secret, domain }))
  const { payload } = jwtDecode(auth.accessToken)
  assert.ok(jwtIsUser(payload))
  assert.equal(payload.user.id, env.user_id)
  assert.equal(getProvisioningApiBaseEndpoint(auth.accessToken), `https://provisioning.${domain}`)
})

test('errors come back in Commerce Layer shape', async () => {
  const auth = await authenticate('client_credentials', { clientId: 'unknown', domain })
  assert.deepEqual(auth.errors, [{
    code: 'UNAUTHORIZED',
    detail: 'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.',
    status: 401,
    title: 'invalid_client'
  }])
  const wrong = await authenticate('password', { clientId: env.sales.client_id, username: env.customer.email, password: 'not it', domain })
  assert.equal(wrong.errors[0].title, 'invalid_grant')
})

test('password, then refresh_token rotation and reuse detection', async () => {
  const auth = ok(await login())
  assert.equal(auth.ownerType, 'customer')
  assert.equal(auth.ownerId, env.customer.id)
  assert.ok(auth.refreshToken)
  assert.equal(getTokenType(jwtDecode(auth.accessToken).payload), 'sales_channel:customer')

  const refreshed = ok(await authenticate('refresh_token', { clientId: env.sales.client_id, refreshToken: auth.refreshToken, domain }))
  assert.notEqual(refreshed.refreshToken, auth.refreshToken)
  assert.equal(refreshed.ownerId, env.customer.id)

  const reused = await authenticate('refresh_token', { clientId: env.sales.client_id, refreshToken: auth.refreshToken, domain })
  assert.equal(reused.errors[0].title, 'invalid_grant')
  // Reuse revoked the family: the rotated refresh token is dead too.
  const after = await authenticate('refresh_token', { clientId: env.sales.client_id, refreshToken: refreshed.refreshToken, domain })
  assert.equal(after.errors[0].title, 'invalid_grant')
})

test('jwt-bearer with createAssertion: a User-owned integration token', async () => {
  const assertion = await createAssertion({ payload: { 'https://commercelayer.io/claims': { owner: { type: 'User', id: env.user_id }, custom_claim: { via: 'js-auth' } } } })
  const auth = ok(await authenticate('urn:ietf:params:oauth:grant-type:jwt-bearer', {
    clientId: env.integration.client_id, clientSecret: env.integration.client_secret, assertion, domain
  }))
  assert.equal(auth.ownerType, 'user')
  assert.equal(auth.ownerId, env.user_id)
  assert.ok(auth.refreshToken)
  const { payload } = jwtDecode(auth.accessToken)
  assert.equal(getTokenType(payload), 'integration:user')
  assert.deepEqual(payload.custom_claim, { via: 'js-auth' })

  const forged = await createAssertion({ payload: { 'https://commercelayer.io/claims': { owner: { type: 'User', id: 'nobody' } } } })
  const refused = await authenticate('urn:ietf:params:oauth:grant-type:jwt-bearer', {
    clientId: env.integration.client_id, clientSecret: env.integration.client_secret, assertion: forged, domain
  })
  assert.deepEqual(refused.errors, [{ code: 'BAD_REQUEST', detail: 'The provided assertion is invalid.', status: 400, title: 'invalid_assertion' }])
})

test('revoke ends the customer grant', async () => {
  const auth = ok(await login())
  assert.deepEqual(await revoke({ clientId: env.sales.client_id, token: auth.accessToken }), {})
  const refreshed = await authenticate('refresh_token', { clientId: env.sales.client_id, refreshToken: auth.refreshToken, domain })
  assert.equal(refreshed.errors[0].title, 'invalid_grant')
})

test('jwtVerify checks our tokens through our JWKS', async () => {
  const auth = ok(await authenticate('client_credentials', { clientId: env.integration.client_id, clientSecret: env.integration.client_secret, domain }))
  const verified = await jwtVerify(auth.accessToken)
  assert.equal(verified.payload.iss, `https://auth.${domain}`)
  assert.equal(verified.payload.application.client_id, env.integration.client_id)
  const [header, payload, signature] = auth.accessToken.split('.')
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString())
  const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, scope: 'market:id:stolen' })).toString('base64url')}.${signature}`
  await assert.rejects(jwtVerify(tampered), InvalidTokenError)
})
