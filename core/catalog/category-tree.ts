import type pg from 'pg'
import type { CategoryNode, CategoryRef } from '../../contracts/index.ts'

export interface CategoryRow {
  id: number
  slug: string
  name: string
  parentId: number | null
  position: number
}

/** The whole category tree, read at once (a catalog has hundreds of categories, not millions). */
export class CategoryTree {
  readonly byId = new Map<number, CategoryRow>()
  readonly bySlug = new Map<string, CategoryRow>()
  private readonly children = new Map<number | null, CategoryRow[]>()

  constructor(rows: CategoryRow[]) {
    for (const row of rows) this.add(row)
  }

  static async load(db: pg.Pool | pg.PoolClient): Promise<CategoryTree> {
    const { rows } = await db.query<CategoryRow>(
      'SELECT id, slug, name, parent_id AS "parentId", position FROM catalog_categories ORDER BY position, name, id',
    )
    return new CategoryTree(rows)
  }

  /** Adds or replaces a category (the store keeps its tree current while it writes). */
  add(row: CategoryRow): void {
    const old = this.byId.get(row.id)
    if (old) {
      const siblings = this.children.get(old.parentId) ?? []
      this.children.set(
        old.parentId,
        siblings.filter((c) => c.id !== row.id),
      )
      this.bySlug.delete(old.slug)
    }
    this.byId.set(row.id, row)
    this.bySlug.set(row.slug, row)
    const siblings = [...(this.children.get(row.parentId) ?? []), row]
    siblings.sort((a, b) => a.position - b.position || a.name.localeCompare(b.name) || a.id - b.id)
    this.children.set(row.parentId, siblings)
  }

  childrenOf(id: number | null): CategoryRow[] {
    return this.children.get(id) ?? []
  }

  /** The category and its ancestors, root first. */
  path(id: number): CategoryRow[] {
    const out: CategoryRow[] = []
    const seen = new Set<number>()
    for (
      let row = this.byId.get(id);
      row && !seen.has(row.id);
      row = row.parentId === null ? undefined : this.byId.get(row.parentId)
    ) {
      seen.add(row.id)
      out.unshift(row)
    }
    return out
  }

  /** The category and everything below it. */
  subtree(id: number): number[] {
    const out: number[] = []
    const stack = [id]
    while (stack.length) {
      const next = stack.pop()!
      out.push(next)
      for (const child of this.childrenOf(next)) stack.push(child.id)
    }
    return out
  }

  /** Whether `ancestor` is `id` or above it. */
  isWithin(id: number, ancestor: number): boolean {
    return this.path(id).some((c) => c.id === ancestor)
  }

  ref(id: number): CategoryRef {
    const row = this.byId.get(id)!
    return { slug: row.slug, name: row.name }
  }

  /** The tree with product counts that include every category below, from counts of products per category. */
  nodes(
    directCounts: Map<number, number>,
    parent: number | null = null,
    depth = Number.POSITIVE_INFINITY,
  ): CategoryNode[] {
    return this.childrenOf(parent).map((row) => {
      const children = depth > 1 ? this.nodes(directCounts, row.id, depth - 1) : []
      const productCount = this.subtree(row.id).reduce((sum, id) => sum + (directCounts.get(id) ?? 0), 0)
      return { slug: row.slug, name: row.name, productCount, children }
    })
  }
}
