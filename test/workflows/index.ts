/** The tests' workflows module: the example worker's workflows and a test-only workflow service. */
export * from '../../src/services/workflows';

/** A workflow service with a large answer (n characters), for tests of responses over the payload limit. */
export async function bigReport(n: number): Promise<string> {
  return 'x'.repeat(n);
}
