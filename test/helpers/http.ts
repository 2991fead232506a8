/** Small HTTP helpers for tests. */

/** The JSON body of a fetch Response, untyped (tests assert on its shape). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function jsonOf(res: Response): Promise<any> {
  return res.json();
}
