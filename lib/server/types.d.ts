// Type declarations for npm packages the server uses that ship none.
declare module 'apache-md5' {
  /** Apache's APR1 MD5-crypt: with a `$apr1$salt$…` string as salt, returns the hash to compare with it. */
  export default function md5(password: string, salt?: string): string;
}
