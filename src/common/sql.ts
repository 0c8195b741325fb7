/**
 * TypeORM's `manager.query` returns plain rows for SELECT but `[rows, count]` for UPDATE/DELETE
 * (with RETURNING). This gives the rows either way.
 */
export function returnedRows<T>(result: unknown): T[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') {
    return result[0] as T[];
  }
  return (result as T[]) ?? [];
}
