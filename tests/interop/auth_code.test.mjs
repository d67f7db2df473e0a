// @commercelayer/js-auth's authorization_code grant (a webapp: client secret, no PKCE in js-auth) against a live
// portal. tests/interop/test_authorization_code.py signs a staff member in at /oauth/authorize, gets the code and
// passes it in CL_AUTH_CODE_INTEROP (JSON).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { authenticate, jwtDecode, jwtIsWebApp, jwtVerify } from '@commercelayer/js-auth'

const env = JSON.parse(process.env.CL_AUTH_CODE_INTEROP)
const realFetch = globalThis.fetch
globalThis.fetch = (input, init) => {
  const url = String(input instanceof Request ? input.url : input).replace(`https://auth.${env.domain}`, env.base)
  return realFetch(url, init)
}

test('authorization_code: a webapp exchanges the code for a user-owned token, once', async () => {
  const options = {
    clientId: env.client_id, clientSecret: env.client_secret, code: env.code, redirectUri: env.redirect_uri, domain: env.domain
  }
  const auth = await authenticate('authorization_code', options)
  assert.equal(auth.errors, undefined, JSON.stringify(auth.errors))
  assert.equal(auth.ownerType, 'user')
  assert.equal(auth.ownerId, env.user_id)
  assert.ok(auth.refreshToken)
  const { payload } = jwtDecode(auth.accessToken)
  assert.ok(jwtIsWebApp(payload))
  assert.deepEqual(payload.owner, { type: 'User', id: env.user_id })
  await jwtVerify(auth.accessToken)
  const again = await authenticate('authorization_code', options)
  assert.equal(again.errors[0].title, 'invalid_grant')
  const refreshed = await authenticate('refresh_token', {
    clientId: env.client_id, clientSecret: env.client_secret, refreshToken: auth.refreshToken, domain: env.domain
  })
  assert.equal(refreshed.errors[0].title, 'invalid_grant') // the reuse revoked the whole grant
})
