// The service's wire formats (JSON bodies as sent and received) and the typed results this client hands
// out. No logic lives here beyond trivial derived fields; parsing XML into these types is `xml.ts`.

// ---------------------------------------------------------------------------------------------------
// JSON API wire types (api.jottacloud.com)

/** `GET account/v1/customer` (fields the service may add are ignored). */
export interface CustomerWire {
  username: string;
  email?: string;
  name?: string;
  country_code?: string;
  language_code?: string;
  brand_code?: string;
  account_type?: string;
  subscription_type?: string;
  usage?: number;
  quota?: number;
  write_locked?: boolean;
  read_locked?: boolean;
}

/** `POST files/v1/allocate` request body. */
export interface AllocateRequestWire {
  bytes: number;
  md5: string;
  /** `/jfs/<device>/<mountpoint>/<path>` — no user name. */
  path: string;
  created?: string;
  modified?: string;
  conflict_handler?: ConflictHandler;
}

export type ConflictHandler = 'REJECT_CONFLICTS' | 'CREATE_NEW_REVISION';

/** `POST files/v1/allocate` answer. */
export interface AllocateResponseWire {
  name: string;
  path: string;
  state: string;
  upload_id: string;
  upload_url: string;
  bytes: number;
  resume_pos: number;
}

/** Answer of the POST to `upload_url` that completes a file. `modified` is epoch milliseconds. */
export interface UploadResponseWire {
  path: string;
  content_id: string;
  bytes: number;
  md5: string;
  modified: number;
}

/** `POST files/v1/purge_trash` answer. */
export interface PurgeTrashWire {
  folders: number;
  files: number;
}

// ---------------------------------------------------------------------------------------------------
// Typed results

/** `COMPLETED` | `INCOMPLETE` | `CORRUPT`; old clients also name `ADDED`, `PROCESSING`. */
export type RevisionState = 'COMPLETED' | 'INCOMPLETE' | 'CORRUPT' | 'ADDED' | 'PROCESSING' | (string & {});

export interface Revision {
  number: number;
  state: RevisionState;
  created?: Date;
  modified?: Date;
  /** When the service last changed this revision (read-only). */
  updated?: Date;
  mime?: string;
  /** Absent for CORRUPT revisions and for INCOMPLETE ones in listings; bytes so far in an INCOMPLETE detail. */
  size?: number;
  /** Lower-case hex (the service echoes what the uploader sent, in either case). */
  md5?: string;
}

export interface File {
  kind: 'file';
  name: string;
  uuid?: string;
  /** Parent as the service spells it (`/<user>/<device>/<mountpoint>/…`), when the answer has it. */
  parentPath?: string;
  /** In trash since then (the service marks trashed entries with a `deleted` timestamp attribute). */
  deletedAt?: Date;
  deleted: boolean;
  /** `TRASH` for entries of the trash view. */
  contextType?: string;
  /** The last good revision: what `mode=bin` serves. */
  currentRevision?: Revision;
  /** A newer upload that did not complete (INCOMPLETE / CORRUPT); the current revision stays served. */
  latestRevision?: Revision;
  /** Older revisions, newest first (file detail only). */
  revisions: Revision[];
  publicUri?: string;
  publicSharePath?: string;
  /** Has a COMPLETED current revision (a file whose first upload never finished has only a latestRevision). */
  complete: boolean;
  /** Of the current revision, when complete. */
  size?: number;
  md5?: string;
  modified?: Date;
  created?: Date;
  updated?: Date;
}

/** A subfolder as it appears inside a listing. */
export interface FolderEntry {
  kind: 'folder';
  name: string;
  deletedAt?: Date;
  deleted: boolean;
  contextType?: string;
  /** Original parent, for trash entries. */
  abspath?: string;
}

export interface ListingCounts {
  total?: number;
  numFolders?: number;
  numFiles?: number;
}

/** One level of the tree: `<folder>`, or `<mountPoint>` at a mountpoint root. */
export interface Folder {
  kind: 'folder' | 'mountPoint';
  name: string;
  /** Parent as the service spells it. */
  parentPath?: string;
  abspath?: string;
  deletedAt?: Date;
  deleted: boolean;
  /** Mountpoints only. */
  size?: number;
  modified?: Date;
  folders: FolderEntry[];
  files: File[];
  counts?: ListingCounts;
}

export interface MountPoint {
  name: string;
  size?: number;
  modified?: Date;
  deletedAt?: Date;
  deleted: boolean;
  device?: string;
  user?: string;
}

export interface Device {
  name: string;
  displayName?: string;
  /** `JOTTA`, `WORKSTATION`, `LAPTOP`, … */
  type?: string;
  sid?: string;
  size?: number;
  modified?: Date;
  user?: string;
  /** Only in the device document (`GET jfs/<user>/<device>`); a new device may have none. */
  mountPoints: MountPoint[];
}

export interface Quota {
  /** Bytes; `undefined` when the plan is unlimited (the service says -1). */
  capacity?: number;
  usage: number;
  unlimited: boolean;
  /** capacity − usage, never negative; `undefined` when unlimited. */
  free?: number;
  /** Usage has reached the capacity: uploads answer 460. */
  exceeded: boolean;
}

/** `GET jfs/<user>`: the quota source. */
export interface DriveInfo {
  username: string;
  accountType?: string;
  locked: boolean;
  readLocked: boolean;
  writeLocked: boolean;
  quotaWriteLocked: boolean;
  quota: Quota;
  maxDevices?: number;
  devices: Device[];
}

export interface CustomerInfo {
  /** The internal user name used in JFS paths (not the e-mail). */
  username: string;
  email?: string;
  name?: string;
  countryCode?: string;
  languageCode?: string;
  brandCode?: string;
  accountType?: string;
  subscriptionType?: string;
  usage?: number;
  /** Bytes; -1 = unlimited (as the service says). */
  quota?: number;
  writeLocked: boolean;
  readLocked: boolean;
}

/** One entry of a `mode=liststream` answer. */
export type ListStreamEntry = ListStreamFile | ListStreamFolder;

export interface ListStreamFolder {
  kind: 'folder';
  /** As sent: `/<mountpoint>/a/b`. */
  path: string;
  /** Below the listed folder (`[]` is the listed folder itself). */
  segments: string[];
  deleted: boolean;
}

export interface ListStreamFile {
  kind: 'file';
  /** The parent folder as sent: `/<mountpoint>/a/b`. */
  path: string;
  name: string;
  /** Parent segments below the listed folder, then the name. */
  segments: string[];
  md5?: string;
  size?: number;
  modified?: Date;
  created?: Date;
  deleted: boolean;
}

export interface ListStreamStats {
  folders: number;
  files: number;
}

export interface TrashPurgeResult {
  folders: number;
  files: number;
}

export interface ShareInfo {
  file: File;
  publicUri?: string;
  publicSharePath?: string;
  /** `<www>opin/io/downloadPublic/<user>/<publicURI>`, the direct download link. */
  directLink?: string;
  /** `<www><publicSharePath>`, when the service gave one. */
  webLink?: string;
}

/** What an upload ended with. */
export interface UploadResult {
  /** `false` when allocate answered COMPLETED: the service already had the bytes. */
  transferred: boolean;
  bytes: number;
  md5: string;
  contentId?: string;
  modified?: Date;
  /** Upload attempts made (1 = no resume needed; 0 when nothing was sent). */
  attempts: number;
  /** Resume offsets used after the first attempt (each > 0 means bytes were not re-sent). */
  resumedFrom: number[];
}
