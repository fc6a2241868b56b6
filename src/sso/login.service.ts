import type { HttpMeta, LoginCompletion, LoginFailure, LoginIdentity, LoginRequestContext } from "./login.types";
import { AppError } from "../shared/errors";

/** identity → user → role → one-time code. (Being built: see issue 3.) */
export class LoginService implements LoginCompletion {
  async assertRedirectAllowed(_organizationId: string, _redirectUri: string): Promise<void> {
    throw new AppError("INTERNAL_SERVER_ERROR", "login flow not available yet");
  }

  async complete(_identity: LoginIdentity, _request: LoginRequestContext, _http: HttpMeta): Promise<{ redirectUrl: string }> {
    throw new AppError("INTERNAL_SERVER_ERROR", "login flow not available yet");
  }

  async recordFailure(_failure: LoginFailure): Promise<void> {
    throw new AppError("INTERNAL_SERVER_ERROR", "login flow not available yet");
  }
}
