import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ScriptLoaderError } from '../errors/script-loader-error.ts'
import replies from './replies.json'

export interface LuaScript {
  name: string
  numberOfKeys: number
  lua: string
}

const LUA_DIR = fileURLToPath(new URL('./lua/', import.meta.url))
/** `--- @include "replies"` defines `Reply`, the one table of reply codes Lua and TypeScript share (replies.json). */
const REPLIES_INCLUDE = 'replies'
const REPLIES_LUA = `local Reply = { ${Object.entries(replies)
  .map(([name, code]) => `${name} = ${code}`)
  .join(', ')} }`
const FILE_NAME = /^([a-z][A-Za-z]+)-(\d+)\.lua$/
const INCLUDE = /^--- @include "([^"]+)"\s*$/

/** Inlines `--- @include "includes/x"` lines once each; throws on missing, circular or repeated includes. */
export function resolveIncludes(file: string, dir: string, stack: string[] = [], seen = new Set<string>()): string {
  const lines = readSource(file, stack).split('\n')
  return lines
    .map((line, index) => {
      const match = INCLUDE.exec(line)
      if (!match) return line
      if (match[1] === REPLIES_INCLUDE) return REPLIES_LUA
      const target = join(dir, `${match[1]}.lua`)
      if (stack.includes(target) || target === file) {
        throw new ScriptLoaderError(`circular include of ${match[1]}`, file, index + 1)
      }
      if (seen.has(target)) throw new ScriptLoaderError(`${match[1]} is included twice`, file, index + 1)
      seen.add(target)
      return resolveIncludes(target, dir, [...stack, file], seen)
    })
    .join('\n')
}

function readSource(file: string, stack: string[]): string {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    throw new ScriptLoaderError('missing script or include', file, 0, stack.at(-1))
  }
}

/** Loads every `<name>-<keys>.lua` in a folder; the file name carries the name and key count. */
export function loadScripts(dir = LUA_DIR): LuaScript[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.lua'))
    .sort()
    .map((f) => {
      const match = FILE_NAME.exec(f)
      if (!match) throw new ScriptLoaderError('script file names must look like verbNoun-<keys>.lua', join(dir, f), 0)
      return { name: match[1]!, numberOfKeys: Number(match[2]), lua: resolveIncludes(join(dir, f), dir) }
    })
}
