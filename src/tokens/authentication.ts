/**
 * Request credential → principal.
 *
 * Rules:
 * - Only `Authorization: Bearer <credential>`; anything else sent in that header is UNAUTHENTICATED.
 * - Each credential format has one Authenticator (API keys now; user access tokens plug in here
 *   later without touching any resolver). A credential no authenticator accepts is refused.
 * - Refusals carry a public reason; which key was tried never appears in it.
 */
import { AppError, UnauthenticatedError } from "../shared/errors";
import type { Principal } from "../shared/principal";

export interface Authenticator {
  /** Does this credential have the format this authenticator handles? */
  accepts(credential: string): boolean;
  /** The principal, or throws UnauthenticatedError. */
  authenticate(credential: string): Promise<Principal>;
}

export interface AuthenticationResult {
  principal: Principal | null;
  error: AppError | null;
}

const MAX_CREDENTIAL_LENGTH = 4096;

export class Authentication {
  constructor(private readonly authenticators: readonly Authenticator[]) {}

  async fromAuthorizationHeader(header: string | undefined): Promise<AuthenticationResult> {
    if (header === undefined || header === "") return { principal: null, error: null };
    const match = /^Bearer +([^\s]+) *$/i.exec(header);
    if (!match || match[1].length > MAX_CREDENTIAL_LENGTH) {
      return { principal: null, error: new UnauthenticatedError("Malformed Authorization header: expected 'Bearer <API key or access token>'") };
    }
    const credential = match[1];
    const authenticator = this.authenticators.find((a) => a.accepts(credential));
    if (!authenticator) return { principal: null, error: new UnauthenticatedError("Unrecognized credential") };
    try {
      return { principal: await authenticator.authenticate(credential), error: null };
    } catch (error) {
      if (error instanceof AppError && (error.code === "UNAUTHENTICATED" || error.code === "TOKEN_EXPIRED")) {
        return { principal: null, error };
      }
      throw error;
    }
  }
}
