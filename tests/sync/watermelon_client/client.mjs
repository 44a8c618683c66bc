// A headless WatermelonDB "phone" for the test suite.
//
// Runs the real @nozbe/watermelondb package (LokiJS adapter, in memory, no web
// worker) in Node and syncs it with the server's WatermelonDB sync endpoint
// through WatermelonDB's own `synchronize()`.
//
// Protocol: newline-delimited JSON. Each command read from stdin gets exactly
// one JSON line on stdout, in order. The database lives as long as the process.
// stdout carries nothing else: console output (WatermelonDB logs a lot) goes to
// stderr, and the sync's warnings are also returned in its answer.
//
//   {"op":"init","base_url","token","device_id","schema":{...},
//    "migrations"?:[...], "migrations_enabled_at_version"?:N, "timeout_ms"?:N}
//                                                  -> {"ok":true,"tables":[...]}
//   {"op":"sync","send_created_as_updated"?:bool,"pause_before_push"?:bool,
//    "migrations_enabled_at_version"?:N}
//                                                  -> {"ok":true,"pulled":n,"pushed":n,...}
//                                                   | {"ok":false,"status":409,"error":"..."}
//       With "pause_before_push", just before pushing it prints {"event":"paused",...}
//       and waits for {"op":"resume"} (which gets no answer of its own: the
//       sync's answer follows). If there is nothing to push it does not pause.
//   {"op":"create","table","fields":{...},"id"?:"..."} -> {"ok":true,"id":"..."}
//   {"op":"update","table","id","fields":{...}}      -> {"ok":true}
//   {"op":"delete","table","id"}  (markAsDeleted)    -> {"ok":true}
//   {"op":"count","table"}                           -> {"ok":true,"count":n}
//   {"op":"get","table","id"}                        -> {"ok":true,"record":{...}|null}
//   {"op":"raw","table","id"}  (with _status/_changed) -> {"ok":true,"record":{...}|null}
//   {"op":"ids","table"}                             -> {"ok":true,"ids":[...]}
//   {"op":"unsynced"}                                -> {"ok":true,"unsynced":bool}
//   {"op":"last_pulled_at"}                          -> {"ok":true,"last_pulled_at":n|null}
//   {"op":"set_token","token"}                       -> {"ok":true}
//   {"op":"upgrade","schema","migrations"}  reopen the same data with a newer
//                                           schema (runs the migrations) -> {"ok":true}
//   {"op":"ping"}                                    -> {"ok":true,"pong":true}
//   {"op":"exit"}                                    -> {"ok":true} then exits
// Any failure answers {"ok":false,"error":"..."}.

import { createRequire } from 'node:module'
import { randomBytes } from 'node:crypto'
import { format } from 'node:util'
import readline from 'node:readline'

// The package is CommonJS with directory imports (`.../sync`), which ESM
// `import` cannot resolve without an exports map: load it with require.
const require = createRequire(import.meta.url)
const { Database, Model, appSchema, tableSchema } = require('@nozbe/watermelondb')
const LokiJSAdapter = require('@nozbe/watermelondb/adapters/lokijs').default
const { synchronize, hasUnsyncedChanges } = require('@nozbe/watermelondb/sync')
const { schemaMigrations, createTable, addColumns } = require('@nozbe/watermelondb/Schema/migrations')
const { setGenerator } = require('@nozbe/watermelondb/utils/common/randomId')

// ---------------------------------------------------------------- output

const out = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`)

// Everything WatermelonDB and LokiJS print goes to stderr; messages printed
// during a sync are also collected and returned with the sync's answer.
let captured = null
for (const level of ['log', 'info', 'debug', 'warn', 'error']) {
  console[level] = (...args) => {
    const text = format(...args)
    process.stderr.write(`[${level}] ${text}\n`)
    if (captured && (level === 'warn' || level === 'error')) captured.push(text.split('\n')[0])
  }
}

// ---------------------------------------------------------------- ids

// The server's ids are UUIDs (v7: time-ordered), so the phone makes the same
// kind instead of WatermelonDB's default 16-character random ids.
function uuidv7() {
  const b = randomBytes(16)
  let ms = Date.now()
  for (let i = 5; i >= 0; i -= 1) {
    b[i] = ms % 256
    ms = Math.floor(ms / 256)
  }
  b[6] = (b[6] & 0x0f) | 0x70
  b[8] = (b[8] & 0x3f) | 0x80
  const h = b.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}
setGenerator(uuidv7)

// ---------------------------------------------------------------- schema

function columnList(table) {
  // Simple form: columns is an array. appSchema JSON form: columnArray, or a
  // {name: column} map.
  const cols = Array.isArray(table.columns)
    ? table.columns
    : table.columnArray || Object.values(table.columns || {})
  return cols.map((c) => ({
    name: c.name,
    type: c.type,
    ...(c.isOptional ? { isOptional: true } : {}),
    ...(c.isIndexed ? { isIndexed: true } : {}),
  }))
}

function tableList(schema) {
  const tables = Array.isArray(schema.tables) ? schema.tables : Object.values(schema.tables || {})
  return tables.map((t) => tableSchema({ name: t.name, columns: columnList(t) }))
}

function buildSchema(schema) {
  if (!schema || typeof schema.version !== 'number') throw new Error('schema needs a numeric version')
  return appSchema({ version: schema.version, tables: tableList(schema) })
}

// Migrations in JSON: [{"toVersion": 2, "steps": [
//   {"type": "create_table", "name": "t", "columns": [...]}          (or "schema": {...})
//   {"type": "add_columns", "table": "t", "columns": [...]}]}]
function buildMigrations(list) {
  return schemaMigrations({
    migrations: (list || []).map((m) => ({
      toVersion: m.toVersion ?? m.to_version,
      steps: (m.steps || []).map((s) => {
        if (s.type === 'create_table') {
          const t = s.schema || s
          return createTable({ name: t.name, columns: columnList(t) })
        }
        if (s.type === 'add_columns') {
          return addColumns({ table: s.table, columns: columnList(s) })
        }
        throw new Error(`unsupported migration step ${s.type}`)
      }),
    })),
  })
}

function modelClasses(schema) {
  return Object.keys(schema.tables).map((name) => {
    // One plain Model subclass per table; columns are read and written raw.
    const cls = class extends Model {}
    cls.table = name
    cls.associations = {}
    Object.defineProperty(cls, 'name', { value: `Model_${name}` })
    return cls
  })
}

// ---------------------------------------------------------------- state

const state = {
  database: null,
  adapter: null,
  baseUrl: null,
  token: null,
  deviceId: null,
  timeoutMs: 60000,
  migrationsEnabledAtVersion: undefined,
  resume: null, // set while a sync waits before its push
}

function makeAdapter(schema, migrations, fromAdapter) {
  const options = {
    schema,
    ...(migrations ? { migrations } : {}),
    useWebWorker: false,
    useIncrementalIndexedDB: false,
    extraLokiOptions: { autosave: false },
    onSetUpError: (error) => process.stderr.write(`[setup error] ${error?.stack || error}\n`),
  }
  if (fromAdapter) {
    // Reopen the same in-memory data (LokiMemoryAdapter) under a new schema.
    const loki = fromAdapter._driver.loki
    const persistence = loki.persistenceAdapter
    return new Promise((resolve) => {
      loki.saveDatabase(() => {
        loki.close()
        resolve(new LokiJSAdapter({ ...options, _testLokiAdapter: persistence }))
      })
    })
  }
  return Promise.resolve(new LokiJSAdapter(options))
}

async function openDatabase(schemaJson, migrationsJson, fromAdapter) {
  const schema = buildSchema(schemaJson)
  const migrations = migrationsJson || state.migrationsEnabledAtVersion ? buildMigrations(migrationsJson) : undefined
  const adapter = await makeAdapter(schema, migrations, fromAdapter)
  const database = new Database({ adapter, modelClasses: modelClasses(schema) })
  // Wait for set-up (loading, migrating) to finish or fail before answering.
  await database.adapter.getLocal('__harness_ready')
  state.adapter = adapter
  state.database = database
  return database
}

function db() {
  if (!state.database) throw new Error('send {"op":"init"} first')
  return state.database
}

function collection(table) {
  const database = db()
  if (!database.schema.tables[table]) throw new Error(`unknown table ${table}`)
  return database.get(table)
}

function setFields(record, table, fields) {
  const columns = db().schema.tables[table].columns
  for (const [key, value] of Object.entries(fields || {})) {
    if (!columns[key]) throw new Error(`unknown column ${table}.${key}`)
    record._setRaw(key, value)
  }
}

// The stored document, straight from LokiJS: Collection.find() answers from the
// record cache, which still holds records that sync destroyed below it (a local
// delete, once pushed, is removed with adapter.destroyDeletedRecords).
function storedRaw(table, id) {
  collection(table)
  const doc = state.adapter._driver.loki.getCollection(table).by('id', String(id))
  if (!doc) return null
  const { $loki, meta, ...raw } = doc
  return raw
}

function publicRaw(raw) {
  if (!raw || raw._status === 'deleted') return null
  const { _status, _changed, ...rest } = raw
  return rest
}

// ---------------------------------------------------------------- http

class HttpError extends Error {
  constructor(status, body, what) {
    super(`${what} answered ${status}: ${body.slice(0, 2000)}`)
    this.status = status
  }
}

async function call(method, path, body) {
  const payload = body === undefined ? undefined : JSON.stringify(body)
  const headers = { Accept: 'application/json', 'X-Device-Id': state.deviceId }
  if (state.token) headers.Authorization = `Bearer ${state.token}`
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const response = await fetch(`${state.baseUrl}${path}`, {
    method,
    headers,
    body: payload,
    signal: AbortSignal.timeout(state.timeoutMs),
  })
  const text = await response.text()
  if (!response.ok) throw new HttpError(response.status, text, `${method} ${path.split('?')[0]}`)
  return { text, bytes: Buffer.byteLength(text), sent: payload ? Buffer.byteLength(payload) : 0 }
}

// ---------------------------------------------------------------- sync

async function doSync(cmd) {
  const database = db()
  const log = {}
  const timing = {}
  const stats = { pull_bytes: 0, push_bytes: 0 }
  captured = []
  const started = performance.now()
  let paused = false
  try {
    await synchronize({
      database,
      log,
      sendCreatedAsUpdated: !!cmd.send_created_as_updated,
      migrationsEnabledAtVersion: cmd.migrations_enabled_at_version ?? state.migrationsEnabledAtVersion,
      pullChanges: async ({ lastPulledAt, schemaVersion, migration }) => {
        const t0 = performance.now()
        const params = new URLSearchParams()
        if (lastPulledAt != null) params.set('last_pulled_at', String(lastPulledAt))
        params.set('schema_version', String(schemaVersion))
        if (migration) params.set('migration', JSON.stringify(migration))
        const { text, bytes } = await call('GET', `/api/v1/sync/watermelon?${params}`)
        stats.pull_bytes = bytes
        timing.pull_http_ms = Math.round(performance.now() - t0)
        const { changes, timestamp } = JSON.parse(text)
        timing.pulled_at_ms = Math.round(performance.now() - started)
        return { changes, timestamp }
      },
      pushChanges: async ({ changes, lastPulledAt }) => {
        timing.apply_done_at_ms = Math.round(performance.now() - started)
        if (cmd.pause_before_push) {
          paused = true
          await new Promise((resolve) => {
            state.resume = resolve
            out({ event: 'paused', last_pulled_at: lastPulledAt, tables: Object.keys(changes) })
          })
        }
        const t0 = performance.now()
        const params = new URLSearchParams({ last_pulled_at: String(lastPulledAt) })
        const { text, sent } = await call('POST', `/api/v1/sync/watermelon?${params}`, { changes })
        stats.push_bytes = sent
        timing.push_http_ms = Math.round(performance.now() - t0)
        const body = text ? JSON.parse(text) : {}
        return body && body.experimentalRejectedIds ? { experimentalRejectedIds: body.experimentalRejectedIds } : {}
      },
    })
  } catch (error) {
    return {
      ok: false,
      status: error instanceof HttpError ? error.status : null,
      error: String(error?.message || error),
      phase: log.phase,
      paused,
      warnings: captured,
    }
  } finally {
    state.resume = null
  }
  return {
    ok: true,
    pulled: log.remoteChangeCount ?? 0,
    pushed: log.localChangeCount ?? 0,
    last_pulled_at: log.newLastPulledAt ?? null,
    rejected_ids: log.rejectedIds || {},
    resolved_conflicts: (log.resolvedConflicts || []).length,
    migration: log.migration ?? null,
    paused,
    duration_ms: Math.round(performance.now() - started),
    ...timing,
    ...stats,
    warnings: captured,
  }
}

// ---------------------------------------------------------------- commands

const handlers = {
  async ping() {
    return { pong: true }
  },

  async init(cmd) {
    if (state.database) throw new Error('already initialised')
    for (const key of ['base_url', 'device_id', 'schema']) {
      if (!cmd[key]) throw new Error(`init needs ${key}`)
    }
    state.baseUrl = cmd.base_url.replace(/\/+$/, '')
    state.token = cmd.token || null
    state.deviceId = cmd.device_id
    state.timeoutMs = cmd.timeout_ms || state.timeoutMs
    state.migrationsEnabledAtVersion = cmd.migrations_enabled_at_version
    const database = await openDatabase(cmd.schema, cmd.migrations)
    return { tables: Object.keys(database.schema.tables), schema_version: database.schema.version }
  },

  async upgrade(cmd) {
    const old = db()
    const database = await openDatabase(cmd.schema, cmd.migrations, old.adapter.underlyingAdapter || old.adapter)
    return { tables: Object.keys(database.schema.tables), schema_version: database.schema.version }
  },

  async set_token(cmd) {
    state.token = cmd.token
    return {}
  },

  async sync(cmd) {
    try {
      return await doSync(cmd)
    } finally {
      captured = null
    }
  },

  async create(cmd) {
    const coll = collection(cmd.table)
    const record = await db().write(() =>
      coll.create((r) => {
        if (cmd.id) r._raw.id = String(cmd.id)
        setFields(r, cmd.table, cmd.fields)
      }),
    )
    return { id: record.id }
  },

  async update(cmd) {
    const record = await collection(cmd.table).find(cmd.id)
    await db().write(() => record.update((r) => setFields(r, cmd.table, cmd.fields)))
    return {}
  },

  async delete(cmd) {
    const record = await collection(cmd.table).find(cmd.id)
    await db().write(() => record.markAsDeleted())
    return {}
  },

  async count(cmd) {
    return { count: await collection(cmd.table).query().fetchCount() }
  },

  async ids(cmd) {
    return { ids: await collection(cmd.table).query().fetchIds() }
  },

  async get(cmd) {
    return { record: publicRaw(storedRaw(cmd.table, cmd.id)) }
  },

  async raw(cmd) {
    return { record: storedRaw(cmd.table, cmd.id) }
  },

  async unsynced() {
    return { unsynced: await hasUnsyncedChanges({ database: db() }) }
  },

  async last_pulled_at() {
    const value = await db().adapter.getLocal('__watermelon_last_pulled_at')
    return { last_pulled_at: value == null ? null : Number(value) }
  },
}

async function handle(cmd) {
  const handler = Object.prototype.hasOwnProperty.call(handlers, cmd.op) ? handlers[cmd.op] : null
  if (!handler) return { ok: false, error: `unknown op ${JSON.stringify(cmd.op)}` }
  try {
    const result = await handler(cmd)
    return 'ok' in result ? result : { ok: true, ...result }
  } catch (error) {
    return { ok: false, error: String(error?.message || error) }
  }
}

// ---------------------------------------------------------------- main loop

let queue = Promise.resolve()
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })

rl.on('line', (line) => {
  if (!line.trim()) return
  let cmd
  try {
    cmd = JSON.parse(line)
  } catch (error) {
    queue = queue.then(() => out({ ok: false, error: `bad JSON: ${error.message}` }))
    return
  }
  if (cmd && cmd.op === 'resume') {
    // Handled at once: the command queue is busy with the paused sync.
    if (state.resume) state.resume()
    else queue = queue.then(() => out({ ok: false, error: 'nothing is paused' }))
    return
  }
  if (cmd && cmd.op === 'exit') {
    queue = queue.then(() => {
      out({ ok: true })
      process.exit(0)
    })
    return
  }
  queue = queue.then(async () => out(await handle(cmd || {})))
})

rl.on('close', () => {
  queue.then(() => process.exit(0))
})

process.on('unhandledRejection', (error) => {
  process.stderr.write(`[unhandledRejection] ${error?.stack || error}\n`)
})
