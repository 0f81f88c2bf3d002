/**
 * Loads an optional peer dependency when a feature that needs it is used, so that an app installs the S3 SDK,
 * amqplib or fastify only for the features it uses; a missing one is named, with what to install.
 */
export class MissingPeerDependencyError extends Error {
  override name = 'MissingPeerDependencyError';
}

export function requirePeer<T>(name: string, feature: string): T {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, by design
    return require(name) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && String(error).includes(`'${name}'`))
      throw new MissingPeerDependencyError(`${feature} needs ${name}: npm install ${name}`);
    throw error;
  }
}
