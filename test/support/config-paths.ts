/** The key paths of a zod config schema, for the tests that hold the schema to its documentation and its use. */
import type { z } from 'zod'

/** Every key path the schema accepts ("beds[].devices[].address"); inside `rules` only the section itself (the engine's schema). */
export function schemaPaths(schema: z.ZodTypeAny, prefix: string, out: Set<string>): void {
  const def = schema._def as { typeName: string; innerType?: z.ZodTypeAny; schema?: z.ZodTypeAny; type?: z.ZodTypeAny }
  switch (def.typeName) {
    case 'ZodDefault':
    case 'ZodOptional':
    case 'ZodNullable':
      return schemaPaths(def.innerType!, prefix, out)
    case 'ZodEffects':
      return schemaPaths(def.schema!, prefix, out)
    case 'ZodArray':
      return schemaPaths(def.type!, `${prefix}[]`, out)
    case 'ZodDiscriminatedUnion':
      for (const option of (schema as z.ZodDiscriminatedUnion<string, z.ZodObject<z.ZodRawShape>[]>).options) schemaPaths(option, prefix, out)
      return
    case 'ZodObject':
      for (const [key, child] of Object.entries((schema as z.ZodObject<z.ZodRawShape>).shape)) {
        const path = prefix ? `${prefix}.${key}` : key
        out.add(path)
        if (path !== 'rules') schemaPaths(child as z.ZodTypeAny, path, out)
      }
      return
    default:
      return
  }
}
