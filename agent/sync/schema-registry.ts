/**
 * Registers the topics' protobuf schema with a Confluent-compatible schema registry (issue 24,
 * `cloud.kafka.wire_format: confluent`): each imported .proto under its import path as subject
 * (Confluent's default reference subject naming), then envelope.proto under `<topic>-value` with
 * those references. Registering what is already registered returns the same id, so every start
 * (and every retry) does the same requests. Only the Confluent REST API (`/subjects/...`), which
 * Confluent Schema Registry, Apicurio (`/apis/ccompat/v7`) and Karapace all serve.
 */
import { readFileSync } from 'node:fs'

/** A .proto file as the registry sees it: its import path, text and direct imports. */
export interface ProtoFile {
  readonly name: string
  readonly text: string
  readonly imports: readonly string[]
}

export class SchemaRegistryError extends Error {
  readonly code = 'BEDSIDE_ERR_SCHEMA_REGISTRY'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'SchemaRegistryError'
  }
}

/** `root` (an import path under `protoDir`) and every file it imports, dependencies first. */
export function readProtoFiles(protoDir: string, root: string): ProtoFile[] {
  const out: ProtoFile[] = []
  const seen = new Set<string>()
  const visit = (name: string): void => {
    if (seen.has(name)) return
    seen.add(name)
    const text = readFileSync(protoDir + name, 'utf8')
    const imports = [...text.matchAll(/^\s*import\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;/gm)].map((m) => m[1]!)
    for (const i of imports) visit(i)
    out.push({ name, text, imports })
  }
  visit(root)
  return out
}

export interface RegistryClientOptions {
  /** Base of the Confluent-compatible API, e.g. http://registry:8080/apis/ccompat/v7. */
  readonly url: string
  /** HTTP basic auth, when the registry asks for it. */
  readonly auth?: { readonly username: string; readonly password: string } | undefined
  readonly timeoutMs?: number
}

interface Reference { name: string; subject: string; version: number }

export class SchemaRegistryClient {
  private readonly base: string
  private readonly headers: Record<string, string>

  constructor(private readonly opts: RegistryClientOptions) {
    this.base = opts.url.replace(/\/+$/, '')
    this.headers = { 'content-type': 'application/vnd.schemaregistry.v1+json', accept: 'application/vnd.schemaregistry.v1+json, application/json' }
    if (opts.auth) this.headers.authorization = `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}`
  }

  /**
   * Registers `files` (dependencies first, the last one the root) so that each subject of
   * `subjects` holds the root with its references; returns each subject's schema id.
   */
  async registerProtobuf(files: readonly ProtoFile[], subjects: readonly string[]): Promise<Map<string, number>> {
    const versions = new Map<string, number>()
    const refsOf = (f: ProtoFile): Reference[] => f.imports.map((name) => ({ name, subject: name, version: versions.get(name)! }))
    for (const f of files.slice(0, -1)) {
      const body = { schemaType: 'PROTOBUF', schema: f.text, references: refsOf(f) }
      await this.post(`/subjects/${encodeURIComponent(f.name)}/versions`, body, f.name)
      // The version the registry holds this text under (a lookup: registering returns only the id).
      const found = await this.post(`/subjects/${encodeURIComponent(f.name)}`, body, f.name) as { version?: unknown }
      if (typeof found.version !== 'number') throw new SchemaRegistryError(`${this.base}: subject "${f.name}" lookup answered no version`)
      versions.set(f.name, found.version)
    }
    const root = files[files.length - 1]!
    const ids = new Map<string, number>()
    for (const subject of subjects) {
      const r = await this.post(`/subjects/${encodeURIComponent(subject)}/versions`, { schemaType: 'PROTOBUF', schema: root.text, references: refsOf(root) }, subject) as { id?: unknown }
      if (typeof r.id !== 'number') throw new SchemaRegistryError(`${this.base}: registering subject "${subject}" answered no schema id`)
      ids.set(subject, r.id)
    }
    return ids
  }

  private async post(path: string, body: unknown, subject: string): Promise<unknown> {
    let res: Response
    try {
      res = await fetch(this.base + path, { method: 'POST', headers: this.headers, body: JSON.stringify(body), signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000) })
    } catch (err) {
      throw new SchemaRegistryError(`schema registry ${this.base} unreachable while registering subject "${subject}": ${(err as Error).message}; records stay queued and registration is retried`, { cause: err })
    }
    const text = await res.text()
    if (!res.ok) throw new SchemaRegistryError(`schema registry ${this.base} refused subject "${subject}": HTTP ${res.status} ${text.slice(0, 300)}; records stay queued and registration is retried`)
    try {
      return JSON.parse(text) as unknown
    } catch {
      throw new SchemaRegistryError(`schema registry ${this.base} answered subject "${subject}" with something that is not JSON: ${text.slice(0, 200)}`)
    }
  }
}
