import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A Secret volume as the kubelet's AtomicWriter lays it out: `tls.crt -> ..data/tls.crt`,
 * `..data -> ..<timestamp>`; an update writes a new timestamped directory and renames a fresh
 * `..data_tmp` symlink over `..data`, so the visible files' inodes never change.
 */
export class SecretVolume {
  private generation = 0;
  constructor(readonly dir: string) {}

  publish(files: Record<string, string | Buffer>): void {
    const versioned = `..2025_01_01_00_00_${String(++this.generation).padStart(2, '0')}`;
    mkdirSync(join(this.dir, versioned));
    for (const [name, content] of Object.entries(files)) writeFileSync(join(this.dir, versioned, name), content);
    symlinkSync(versioned, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    if (this.generation === 1) for (const name of Object.keys(files)) symlinkSync(join('..data', name), join(this.dir, name));
  }
}
