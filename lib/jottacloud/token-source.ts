// The seam between the API client and the auth code: the client asks for an access token before each
// call and reports a 401, the auth side (tokens.ts) owns refreshing, persisting and single-flight.
export interface AccessTokenSource {
  /** A valid access token, refreshed ahead of its expiry (one refresh at a time per account). */
  getAccessToken(): Promise<string>;
  /**
   * The service answered 401 to a call made with `rejected`: refresh unless a newer token already exists,
   * and return the token to retry with. Throws when the user has to log in again.
   */
  renewAfterUnauthorized(rejected: string): Promise<string>;
}
