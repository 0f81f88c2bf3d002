/** The error a call was refused with; fails the test if the call was accepted instead. */
export async function refusal(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => {
      throw new Error('the request was accepted');
    },
    (error: unknown) => error,
  );
}
