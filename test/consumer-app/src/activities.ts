/** The app's own activities, served by the same worker as the fan-out's. */
export async function greet(name: string): Promise<string> {
  return `hello, ${name}`;
}
