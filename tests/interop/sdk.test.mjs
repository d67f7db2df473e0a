// The official @commercelayer/sdk (tokens from @commercelayer/js-auth) against a running portal.
// Run by tests/interop/test_sdk.py, which starts the portal and passes CL_INTEROP (JSON) and CL_PHASE.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { authenticate, createAssertion } from '@commercelayer/js-auth'
import { CommerceLayer } from '@commercelayer/sdk/bundle'
import { CommerceLayerStatic } from '@commercelayer/sdk'

const isApiError = (error) => CommerceLayerStatic.isApiError(error)

const env = JSON.parse(process.env.CL_INTEROP)
const phase = process.env.CL_PHASE ?? 'main'
const domain = env.domain

// The clients call https://auth.<domain>, https://<org>.<domain>/api and https://provisioning.<domain>/api:
// send them all to the local portal instead.
const realFetch = globalThis.fetch
globalThis.fetch = (input, init) => {
  const url = String(input instanceof Request ? input.url : input)
    .replace(`https://auth.${domain}`, env.base)
    .replace(`https://provisioning.${domain}/api`, `${env.base}/provisioning/api`)
    .replace(new RegExp(`^https://[a-z0-9-]+\\.${domain.replace('.', '\\.')}/api`), `${env.base}/api`)
  return realFetch(url, init)
}

async function integrationClient () {
  const auth = await authenticate('client_credentials', { clientId: env.integration.client_id, clientSecret: env.integration.client_secret, domain })
  assert.equal(auth.errors, undefined, JSON.stringify(auth.errors))
  return CommerceLayer({ accessToken: auth.accessToken })
}

async function userOwnedClient () {
  // The anonymization recipe: provisioning token → user id → JWT bearer assertion owned by that user.
  const provisioning = await authenticate('client_credentials', { clientId: env.provisioning.client_id, clientSecret: env.provisioning.client_secret, domain })
  assert.equal(provisioning.errors, undefined, JSON.stringify(provisioning.errors))
  const me = await (await fetch(`https://provisioning.${domain}/api/user`, { headers: { Authorization: `Bearer ${provisioning.accessToken}`, Accept: 'application/vnd.api+json' } })).json()
  assert.equal(me.data.type, 'users')
  // createAssertion sets no jti and an iat in whole seconds: two in the same second are the same assertion, which the
  // portal refuses as a replay (SECURITY.md, "JWT-bearer assertions without jti"). A new second, a new assertion.
  await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 5))
  const assertion = await createAssertion({ payload: { 'https://commercelayer.io/claims': { owner: { type: 'User', id: me.data.id } } } })
  const auth = await authenticate('urn:ietf:params:oauth:grant-type:jwt-bearer', { clientId: env.integration.client_id, clientSecret: env.integration.client_secret, assertion, domain })
  assert.equal(auth.errors, undefined, JSON.stringify(auth.errors))
  assert.equal(auth.ownerType, 'user')
  return CommerceLayer({ accessToken: auth.accessToken })
}

if (phase === 'main') {
  test('webhooks: create (secret returned), disable, enable, reset circuit, validation', async () => {
    const cl = await integrationClient()
    const hook = await cl.webhooks.create({ name: 'SDK hook', topic: 'customers.create', callback_url: env.receiver, include_resources: ['customer_group'] })
    assert.equal(hook.topic, 'customers.create')
    assert.equal(hook.shared_secret.length, 32)
    assert.equal(hook.circuit_state, 'closed')
    assert.deepEqual(hook.include_resources, ['customer_group'])
    assert.ok((await cl.webhooks._disable(hook.id)).disabled_at)
    assert.equal((await cl.webhooks._enable(hook.id)).disabled_at, null)
    assert.equal((await cl.webhooks._reset_circuit(hook.id)).circuit_failure_count, 0)
    await assert.rejects(cl.webhooks.create({ topic: 'orders.place', callback_url: env.receiver }), (error) => {
      assert.ok(isApiError(error))
      assert.equal(error.status, 422)
      assert.equal(error.errors[0].source.pointer, '/data/attributes/topic')
      return true
    })
  })

  test('customers: create, list with filters/sort/pagination, retrieve with include, update, delete', async () => {
    const cl = await integrationClient()
    const group = await cl.customer_groups.create({ name: 'SDK VIP', code: 'sdk_vip' })
    const created = []
    for (const name of ['carol', 'alice', 'bob']) {
      created.push(await cl.customers.create({ email: `${name}@sdk.example`, password: 'a long sdk password', metadata: { source: 'sdk' } }))
    }
    assert.equal(created[0].status, 'prospect')
    assert.equal(created[0].has_password, true)

    const page = await cl.customers.list({ filters: { email_cont: '@sdk.example', metadata_jcont: { source: 'sdk' } }, sort: { email: 'asc' }, pageSize: 2, pageNumber: 1 })
    assert.deepEqual(Array.from(page, c => c.email), ['alice@sdk.example', 'bob@sdk.example'])
    assert.equal(page.meta.recordCount, 3)
    assert.equal(page.meta.pageCount, 2)

    const updated = await cl.customers.update({ id: created[0].id, email: 'caroline@sdk.example', shopper_reference: 'sdk-shopper-001', metadata: { source: 'sdk', tier: 'gold' }, customer_group: cl.customer_groups.relationship(group.id) })
    assert.equal(updated.email, 'caroline@sdk.example')
    assert.equal(updated.shopper_reference, 'sdk-shopper-001')
    assert.deepEqual(updated.metadata, { source: 'sdk', tier: 'gold' })

    const fetched = await cl.customers.retrieve(created[0].id, { include: ['customer_group'] })
    assert.equal(fetched.customer_group.id, group.id)
    assert.equal(fetched.customer_group.name, 'SDK VIP')

    const members = await cl.customer_groups.customers(group.id)
    assert.deepEqual(Array.from(members, c => c.id), [created[0].id])

    await cl.customers.delete(created[2].id)
    await assert.rejects(cl.customers.retrieve(created[2].id), (error) => isApiError(error) && error.status === 404)
  })

  test('customer_groups CRUD', async () => {
    const cl = await integrationClient()
    const group = await cl.customer_groups.create({ name: 'Wholesale', code: 'sdk_wholesale' })
    const renamed = await cl.customer_groups.update({ id: group.id, name: 'Wholesale EU' })
    assert.equal(renamed.name, 'Wholesale EU')
    const listed = await cl.customer_groups.list({ filters: { code_eq: 'sdk_wholesale' } })
    assert.deepEqual(Array.from(listed, g => g.id), [group.id])
    await cl.customer_groups.delete(group.id)
    assert.equal((await cl.customer_groups.list({ filters: { code_eq: 'sdk_wholesale' } })).length, 0)
  })

  test('validation and missing records surface as API errors', async () => {
    const cl = await integrationClient()
    await cl.customers.create({ email: 'taken@sdk.example' })
    await assert.rejects(cl.customers.create({ email: 'taken@sdk.example' }), (error) => {
      assert.ok(isApiError(error))
      assert.equal(error.status, 422)
      assert.equal(error.errors[0].code, 'VALIDATION_ERROR')
      assert.equal(error.errors[0].meta.error, 'taken')
      assert.equal(error.errors[0].source.pointer, '/data/attributes/email')
      return true
    })
    await assert.rejects(cl.customers.retrieve('doesNotExist'), (error) => isApiError(error) && error.status === 404 && error.errors[0].code === 'RECORD_NOT_FOUND')
  })

  test('anonymization: request, read, cancel, request again (user-owned token)', async () => {
    const cl = await userOwnedClient()
    const customer = await cl.customers.create({ email: 'forget.me@sdk.example' })
    const requested = await cl.customers.update({ id: customer.id, _request_anonymization: true })
    assert.equal(requested.anonymization_status, 'requested')
    assert.equal(requested.anonymization_info.requester.email, env.admin_email)
    const cancelled = await cl.customers.update({ id: customer.id, _cancel_anonymization: true })
    assert.equal(cancelled.anonymization_status, 'cancelled')
    const again = await cl.customers.update({ id: customer.id, _request_anonymization: true })
    assert.equal(again.anonymization_status, 'requested')
    const plain = await integrationClient()
    await assert.rejects(plain.customers.update({ id: customer.id, _cancel_anonymization: true }), (error) => isApiError(error) && error.status === 401)
  })
}

if (phase === 'after_worker') {
  test('webhooks: event callbacks and events after the worker ran', async () => {
    const cl = await integrationClient()
    const [hook] = await cl.webhooks.list({ filters: { name_eq: 'SDK hook' } })
    const callbacks = await cl.webhooks.last_event_callbacks(hook.id)
    assert.ok(callbacks.length >= 3)
    for (const callback of callbacks) {
      assert.equal(callback.response_code, '200')
      assert.equal(callback.callback_url, env.receiver)
      assert.equal(callback.payload.data.type, 'customers')
    }
    const alice = Array.from(callbacks).find((c) => c.payload.data.attributes?.email === 'alice@sdk.example')
    assert.ok(alice, 'the body is the customer as the worker found it (a deleted one is its identifier)')
    const listed = await cl.event_callbacks.list({ filters: { response_code_eq: 200 } })
    assert.equal(listed.length, callbacks.length)
    assert.equal((await cl.event_callbacks.webhook(listed[0].id)).id, hook.id)
    const events = await cl.events.list({ filters: { name_eq: 'customers.create' }, include: ['last_event_callbacks'] })
    assert.ok(events.length >= 3)
    const triggered = await cl.events._trigger(events[0].id)
    assert.equal(triggered.name, 'customers.create')
  })


  test('anonymization: completed after the worker ran', async () => {
    const cl = await userOwnedClient()
    const done = await cl.customers.list({ filters: { anonymization_status_eq: 'completed' } })
    assert.equal(done.length, 1)
    assert.equal(done[0].anonymization_info.status, 'completed')
    assert.ok(!done[0].email.startsWith('forget.me'))
  })
}
