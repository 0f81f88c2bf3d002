/**
 * SSRF guard: webhook URLs come from API clients, so a URL must not reach loopback, private, link-local or cloud
 * metadata addresses unless an operator allow-listed them. It is applied to the addresses a name resolves to at
 * connect time, so a DNS answer that changes after the fan-out was accepted (rebinding) is caught too.
 */
import { BlockList, isIP } from 'node:net';

const DENIED_V4: Array<[string, number]> = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT; includes Alibaba's metadata 100.100.100.200
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local; includes the AWS/GCP/Azure metadata 169.254.169.254
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];
const DENIED_V6: Array<[string, number]> = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b::', 96], // NAT64: would reach any IPv4 address, private ones included
  ['fc00::', 7], // unique local; includes AWS's metadata fd00:ec2::254
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
];

export class AddressRefusedError extends Error {
  override readonly name = 'AddressRefusedError';
}

export class AddressPolicy {
  private readonly denied = new BlockList();
  private readonly allowed = new BlockList();
  private readonly allowedHosts = new Set<string>();

  /** @param allowList IP addresses, CIDR ranges or host names that may be reached even though they are internal. */
  constructor(allowList: readonly string[] = []) {
    for (const [address, prefix] of DENIED_V4) this.denied.addSubnet(address, prefix, 'ipv4');
    for (const [address, prefix] of DENIED_V6) this.denied.addSubnet(address, prefix, 'ipv6');
    for (const entry of allowList.map((e) => e.trim()).filter(Boolean)) {
      const [address, prefix] = entry.split('/');
      const family = isIP(address);
      if (family === 0) {
        if (prefix !== undefined) throw new Error(`Invalid allow-list entry: ${entry}`);
        this.allowedHosts.add(address.toLowerCase());
        continue;
      }
      const type = family === 4 ? 'ipv4' : 'ipv6';
      const bits = prefix === undefined ? (family === 4 ? 32 : 128) : Number(prefix);
      if (!Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)) {
        throw new Error(`Invalid allow-list entry: ${entry}`);
      }
      this.allowed.addSubnet(address, bits, type);
    }
  }

  /** Throws AddressRefusedError if `hostname`, resolved to `address`, must not be contacted. */
  check(hostname: string, address: string): void {
    const family = isIP(address);
    if (family === 0) throw new AddressRefusedError(`${hostname} resolved to something that is not an IP address`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (!this.denied.check(address, type)) return;
    if (this.allowedHosts.has(hostname.toLowerCase()) || this.allowed.check(address, type)) return;
    throw new AddressRefusedError(
      `Refusing to deliver to ${hostname} (${address}): loopback, private, link-local and metadata addresses ` +
        'are not allowed unless allow-listed',
    );
  }
}
