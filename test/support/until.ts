/** Polls `done` every 20 ms until it holds or `timeoutMs` have passed (the caller's assertion then tells which). */
export async function until(done: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}

/** Rejects after `ms` (a test waiting for something that does not come fails instead of hanging). */
export function failAfter(ms: number, what: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(what)), ms).unref());
}
