/**
 * Quoting for names that end up in DDL (CREATE/DROP/ALTER DATABASE cannot take bind parameters).
 * Callers validate names first; quoting is the second line of defence.
 */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.length > 63 || name.includes('\0')) {
    throw new Error(`Invalid SQL identifier: ${JSON.stringify(name)}`);
  }
  return `"${name.replace(/"/g, '""')}"`;
}
