// The public face of lib/storage for the layers above: the provider contract and its errors, the
// Jottacloud-backed provider, and the name helpers the WebDAV layer needs for raw (non-UTF-8) URL bytes.
export * from './types.js';
export { openStorage, JottacloudStorage, type StorageOptions } from './provider.js';
export { nameFromBytes, nameToBytes, encodeName, decodeName, rcloneEncoding, rclone160Encoding, type NameEncoding } from './names.js';
export { normalizeMd5 } from './spool.js';
