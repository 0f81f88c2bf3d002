/**
 * Sets `key` on a plain record as an own, enumerable property. Target names are the caller's, and one may be
 * `__proto__`, which plain assignment (`map[key] = value`) would turn into a prototype change instead of a key.
 */
export function setOwnKey<T>(map: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
}
