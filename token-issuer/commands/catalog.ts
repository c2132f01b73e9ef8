import { CATALOG_OPTIONS, CATALOG_USAGE, runCatalogCommand } from '../catalog-cli.ts'
import { type Command, write } from '../command.ts'

export const catalog: Command = {
  name: 'catalog',
  summary: 'the store around the drop: import a catalog file, write the sample catalog, reindex search, status',
  usage: CATALOG_USAGE,
  options: CATALOG_OPTIONS,
  positionals: ['subcommand'],
  run: runCatalogCommand,
}
