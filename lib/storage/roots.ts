// Roots: which part of the account the user's `/` is, and where a user path lands in it.
//   mountpoint  `/` is one mountpoint (default Jotta/Archive); every path is below it.
//   device      `/` lists one device's mountpoints; `/Archive/a` is Jotta/Archive/a.
//   all         `/` lists the devices, `/Jotta` their mountpoints, `/Jotta/Archive/a` a path below.
// Plus the optional trash view (`storage.trashView`, e.g. `/.Trash`), a virtual top-level folder in every mode.
// Read-only areas: the built-in device's views Latest, Links, Shared and Trash, the virtual levels
// (root, devices) except for creating mountpoints on a backup device, and the trash view.
import { decodeName, encodeName, joinPath, splitPath, type NameEncoding } from './names.js';
import { ReadOnly } from './types.js';

export type RootMode = 'mountpoint' | 'device' | 'all';

export interface RootConfig {
  mode: RootMode;
  device: string;
  mountpoint: string;
  /** `/.Trash` or false. */
  trashView: string | false;
}

export const BUILTIN_DEVICE = 'Jotta';
/** Views of the built-in device that are not places to store files. */
const READ_ONLY_MOUNTPOINTS = new Set(['latest', 'links', 'shared', 'trash']);

/** Where a user path points. */
export type Place =
  /** The virtual root in device/all mode (lists mountpoints or devices). */
  | { kind: 'root'; path: string }
  /** A device in all mode (lists its mountpoints). */
  | { kind: 'device'; path: string; device: string }
  /** A mountpoint's root or a path below it; `segments` are the stored (mapped) names below the mountpoint. */
  | { kind: 'tree'; path: string; device: string; mountpoint: string; segments: string[]; readOnly: boolean }
  /** The trash view, or something inside it: `trashSegments` are the user names below the view. */
  | { kind: 'trash'; path: string; trashSegments: string[] };

export class Roots {
  constructor(
    readonly config: RootConfig,
    private readonly encoding: NameEncoding,
  ) {}

  /** Resolves a user path; maps each name (InvalidName before any request). */
  place(userPath: string): Place {
    const segs = splitPath(userPath);
    const path = joinPath(segs);
    const trash = this.config.trashView ? splitPath(this.config.trashView)[0] : undefined;
    if (trash !== undefined && segs.length > 0 && segs[0].toLowerCase() === trash.toLowerCase()) {
      return { kind: 'trash', path, trashSegments: segs.slice(1) };
    }
    const enc = (s: string) => encodeName(s, this.encoding, path);
    switch (this.config.mode) {
      case 'mountpoint':
        return this.tree(path, this.config.device, this.config.mountpoint, segs.map(enc));
      case 'device':
        if (segs.length === 0) return { kind: 'root', path };
        return this.tree(path, this.config.device, enc(segs[0]), segs.slice(1).map(enc));
      case 'all':
        if (segs.length === 0) return { kind: 'root', path };
        if (segs.length === 1) return { kind: 'device', path, device: enc(segs[0]) };
        return this.tree(path, enc(segs[0]), enc(segs[1]), segs.slice(2).map(enc));
    }
  }

  private tree(path: string, device: string, mountpoint: string, segments: string[]): Place {
    const readOnly = device.toLowerCase() === BUILTIN_DEVICE.toLowerCase() && READ_ONLY_MOUNTPOINTS.has(mountpoint.toLowerCase());
    return { kind: 'tree', path, device, mountpoint, segments, readOnly };
  }

  /**
   * The user path of an entry the service describes by its parent (`/<user>/<device>/<mountpoint>/a`, as in
   * `<path>`/`<abspath>`) and its stored name; undefined when it lies outside what the root exposes.
   */
  userPath(serviceParent: string, storedName?: string): string | undefined {
    const parts = splitPath(serviceParent).slice(1); // drop the user name
    if (storedName !== undefined) parts.push(storedName);
    const [device, mountpoint, ...rest] = parts;
    const dec = (s: string) => decodeName(s, this.encoding);
    switch (this.config.mode) {
      case 'mountpoint':
        if (!same(device, this.config.device) || !same(mountpoint, this.config.mountpoint)) return undefined;
        return joinPath(rest.map(dec));
      case 'device':
        if (!same(device, this.config.device)) return undefined;
        return joinPath([mountpoint, ...rest].filter((s) => s !== undefined).map(dec));
      case 'all':
        return joinPath([device, mountpoint, ...rest].filter((s) => s !== undefined).map(dec));
    }
  }

  /** The user path of a tree place rebuilt from stored names (used when the service did not echo a path). */
  userPathOf(place: Extract<Place, { kind: 'tree' }>, segments = place.segments): string {
    const dec = (s: string) => decodeName(s, this.encoding);
    switch (this.config.mode) {
      case 'mountpoint':
        return joinPath(segments.map(dec));
      case 'device':
        return joinPath([place.mountpoint, ...segments].map(dec));
      case 'all':
        return joinPath([place.device, place.mountpoint, ...segments].map(dec));
    }
  }

  /** Throws ReadOnly unless the place may be changed (`what` says which change, for the message). */
  assertWritable(place: Place, what: string): Extract<Place, { kind: 'tree' }> {
    if (place.kind === 'trash') throw new ReadOnly(place.path, `is in the trash view, which is read-only (move an entry out of it to restore it)`);
    if (place.kind !== 'tree') throw new ReadOnly(place.path, `cannot ${what} here: this level lists ${place.kind === 'root' ? 'devices or mountpoints' : 'mountpoints'}`);
    if (place.readOnly) throw new ReadOnly(place.path, `is in Jottacloud's read-only ${place.mountpoint} view`);
    return place;
  }
}

function same(a: string | undefined, b: string): boolean {
  return a !== undefined && a.toLowerCase() === b.toLowerCase();
}
