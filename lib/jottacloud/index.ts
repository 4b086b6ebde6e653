// The public face of lib/jottacloud for the layers above: the API client, its typed results and errors,
// path helpers, and the transport/endpoint/token seams it is built from.
export {
  JottacloudClient,
  DEFAULT_DEVICE,
  DEFAULT_MOUNTPOINT,
  type JottacloudClientOptions,
  type ByteRange,
  type ContentMatch,
  type Download,
  type DownloadOptions,
} from './client.js';
export type { UploadOptions, BodySource } from './upload.js';
export * from './errors.js';
export * from './types.js';
export {
  InvalidPathError,
  allocatePath,
  displayPath,
  encodeSegment,
  jfsUrlPath,
  moveTarget,
  resolveLocation,
  toSegments,
  type Location,
  type PathArg,
  type RemoteLocation,
  type RemotePath,
} from './paths.js';
export { parseServiceTime, formatJottaTime, formatRfc3339 } from './xml.js';
export type { RequestInfo, RetryOptions, HostKind } from './retry.js';
export { createHttpClient, retireIdleConnections, type HttpOptions } from './http.js';
export { endpointsFromSetting, jottacloudEndpoints, singleOriginEndpoints, rebaseUrl, type Endpoints } from './endpoints.js';
export type { AccessTokenSource } from './token-source.js';
