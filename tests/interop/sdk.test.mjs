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

  test('tags, customer subscriptions, attachments and event stores', async () => {
    const cl = await integrationClient()
    const vip = await cl.tags.create({ name: 'sdk_vip' })
    const gold = await cl.tags.create({ name: 'sdk_gold' })
    await assert.rejects(cl.tags.create({ name: 'Not Valid' }), (error) => isApiError(error) && error.status === 422 && error.errors[0].source.pointer === '/data/attributes/name')

    const customer = await cl.customers.create({ email: 'tagged@sdk.example', tags: [cl.tags.relationship(vip.id)] })
    const added = await cl.customers._add_tags(customer.id, 'sdk_gold,unknown_tag', { include: ['tags'] })
    assert.deepEqual(added.tags.map(t => t.name).sort(), ['sdk_gold', 'sdk_vip'])
    const removed = await cl.customers.update({ id: customer.id, _remove_tags: 'sdk_vip' }, { include: ['tags'] })
    assert.deepEqual(removed.tags.map(t => t.id), [gold.id])
    const replaced = await cl.customers.update({ id: customer.id, tags: [cl.tags.relationship(vip.id), cl.tags.relationship(gold.id)] })
    assert.equal(replaced.id, customer.id)
    assert.deepEqual(Array.from(await cl.customers.tags(customer.id), t => t.name).sort(), ['sdk_gold', 'sdk_vip'])

    const tagged = await cl.customers.list({ filters: { tags_name_eq: 'sdk_vip' }, include: ['tags'] })
    assert.deepEqual(Array.from(tagged, c => c.id), [customer.id])
    assert.deepEqual(tagged[0].tags.map(t => t.name).sort(), ['sdk_gold', 'sdk_vip'])
    const byId = await cl.customers.list({ filters: { tags_id_in: `${gold.id},${vip.id}` } })
    assert.deepEqual(Array.from(byId, c => c.id), [customer.id])

    const subscription = await cl.customer_subscriptions.create({ customer_email: 'tagged@sdk.example', reference: 'newsletter' })
    assert.equal(subscription.customer_email, 'tagged@sdk.example')
    const subscriptions = await cl.customers.customer_subscriptions(customer.id)
    assert.deepEqual(Array.from(subscriptions, s => s.id), [subscription.id])

    const note = await cl.attachments.create({ name: 'SDK note', description: 'Called about the order', attachable: cl.customers.relationship(customer.id) })
    assert.equal(note.name, 'SDK note')
    const notes = await cl.customers.attachments(customer.id)
    assert.deepEqual(Array.from(notes, a => a.description), ['Called about the order'])
    const withAttachable = await cl.attachments.retrieve(note.id, { include: ['attachable'] })
    assert.equal(withAttachable.attachable.id, customer.id)
    await assert.rejects(cl.attachments.create({ name: 'x', attachable: cl.markets.relationship('anything') }), (error) => isApiError(error) && error.status === 422)

    const events = await cl.customers.event_stores(customer.id)
    assert.ok(events.length >= 3)
    assert.ok(Array.from(events).every(e => e.resource_type === 'customers' && e.resource_id === customer.id))
    assert.ok(Array.from(events).some(e => e.event === 'tags_change'))
  })

  test('customer password resets keep reference fields and filter by customer', async () => {
    const cl = await integrationClient()
    const customer = await cl.customers.create({ email: 'reset.ref@sdk.example' })
    const reset = await cl.customer_password_resets.create({ customer_email: 'reset.ref@sdk.example', reference: 'ticket-1', reference_origin: 'helpdesk', metadata: { agent: 'sdk' } })
    assert.equal(reset.reference, 'ticket-1')
    assert.deepEqual(reset.metadata, { agent: 'sdk' })
    const mine = await cl.customer_password_resets.list({ filters: { customer_id_eq: customer.id } })
    assert.deepEqual(Array.from(mine, r => r.id), [reset.id])
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

if (phase === 'main') {
  test('filters: _any/_all, relationship ids and traversal; include paths', async () => {
    const cl = await integrationClient()
    const group = await cl.customer_groups.create({ name: 'Any group', code: 'sdk_any' })
    for (const name of ['any1', 'any2', 'any3']) await cl.customers.create({ email: `${name}@filters.example` })
    const member = await cl.customers.create({ email: 'any4@filters.example', customer_group: cl.customer_groups.relationship(group.id) })
    const any = await cl.customers.list({ filters: { email_cont_any: ['any1', 'any3'] }, sort: { email: 'asc' } })
    assert.deepEqual(Array.from(any, c => c.email), ['any1@filters.example', 'any3@filters.example'])
    const all = await cl.customers.list({ filters: { email_end_any: ['@filters.example'], email_not_eq_all: ['any1@filters.example', 'any2@filters.example'] }, sort: { email: 'asc' } })
    assert.deepEqual(Array.from(all, c => c.email), ['any3@filters.example', 'any4@filters.example'])
    const inGroup = await cl.customers.list({ filters: { customer_group_code_eq: 'sdk_any' } })
    assert.deepEqual(Array.from(inGroup, c => c.id), [member.id])

    const [main] = await cl.markets.list({ filters: { code_eq: 'main' } })
    const order = await cl.orders.create({ customer_email: 'any1@filters.example', currency_code: 'EUR', market: cl.markets.relationship(main.id) })
    const orders = await cl.orders.list({ filters: { market_code_in: ['main', 'nowhere'], status_matches_any: ['draft', 'placed'], id_eq: order.id }, include: ['market', 'customer'] })
    assert.equal(orders.length, 1)
    assert.equal(orders[0].market.code, 'main')
    assert.equal(orders[0].customer.email, 'any1@filters.example')
    const byMarket = await cl.orders.list({ filters: { market_id_eq: main.id, customer_email_eq: 'any1@filters.example' } })
    assert.deepEqual(Array.from(byMarket, o => o.id), [order.id])

    const withPath = await cl.customers.retrieve(orders[0].customer.id, { include: ['orders.market', 'customer_addresses.customer'] })
    assert.equal(withPath.orders[0].market.id, main.id)
    await assert.rejects(cl.customers.list({ include: ['orders.nothing'] }), (error) => isApiError(error) && error.status === 400 && error.errors[0].code === 'INVALID_INCLUDE')
  })

  test('validation: three bad fields come back as three errors', async () => {
    const cl = await integrationClient()
    await assert.rejects(cl.customers.create({ email: 'not an email', shopper_reference: 'ab', metadata: [1] }), (error) => {
      assert.ok(isApiError(error))
      assert.equal(error.status, 422)
      assert.equal(error.errors.length, 3)
      assert.deepEqual(error.errors.map(e => e.source.pointer).sort(), ['/data/attributes/email', '/data/attributes/metadata', '/data/attributes/shopper_reference'])
      return true
    })
  })

  test('rate limits: Commerce Layer headers on every response', async () => {
    const auth = await authenticate('client_credentials', { clientId: env.integration.client_id, clientSecret: env.integration.client_secret, domain })
    const response = await fetch(`https://sdk-interop.${domain}/api/customers`, { headers: { Authorization: `Bearer ${auth.accessToken}`, Accept: 'application/vnd.api+json' } })
    assert.equal(response.status, 200)
    assert.ok(Number(response.headers.get('x-ratelimit-limit')) > 0)
    assert.ok(Number(response.headers.get('x-ratelimit-interval')) > 0)
    assert.ok(Number(response.headers.get('x-ratelimit-remaining')) < Number(response.headers.get('x-ratelimit-limit')))
    assert.equal(response.headers.get('x-ratelimit-reset'), null)
    assert.equal(response.headers.get('retry-after'), null)
  })

  test('sales channel: markets, an address read back, a password reset whose token goes by email', async () => {
    const cl = await integrationClient()
    await cl.customers.create({ email: 'reset.me@sdk.example', password: 'the first long password' })
    const guest = await authenticate('client_credentials', { clientId: env.sales_channel.client_id, domain })
    assert.equal(guest.errors, undefined, JSON.stringify(guest.errors))
    const store = CommerceLayer({ accessToken: guest.accessToken })
    assert.ok(Array.from(await store.markets.list(), m => m.code).includes('main'))
    const address = await store.addresses.create({ first_name: 'Ada', last_name: 'Lovelace', line_1: '12 St James Square', city: 'London', zip_code: 'SW1Y 4JH', country_code: 'GB', phone: '+44 20 7946 0000' })
    assert.equal((await store.addresses.retrieve(address.id)).city, 'London')
    const reset = await store.customer_password_resets.create({ customer_email: 'reset.me@sdk.example' })
    assert.ok(reset.id)
    assert.equal(reset.reset_password_token ?? null, null)
  })
}

if (phase === 'after_worker') {
  test('sales channel: the emailed reset completes with _reset_password_token, then the password grant works', async () => {
    const guest = await authenticate('client_credentials', { clientId: env.sales_channel.client_id, domain })
    const store = CommerceLayer({ accessToken: guest.accessToken })
    const done = await store.customer_password_resets.update({ id: env.reset.id, _reset_password_token: env.reset.token, customer_password: 'a brand new long password' })
    assert.ok(done.reset_password_at)
    const login = await authenticate('password', { clientId: env.sales_channel.client_id, username: 'reset.me@sdk.example', password: 'a brand new long password', domain })
    assert.equal(login.errors, undefined, JSON.stringify(login.errors))
    assert.equal(login.ownerType, 'customer')
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
