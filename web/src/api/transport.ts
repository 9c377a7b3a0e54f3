// The grpc-web transport. The API is on the page's own origin unless VITE_PARLEY_URL says otherwise
// at build time (parleyd and Envoy both allow cross-origin calls).

import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { AuthService } from "../gen/chat/v1/auth_pb";

const baseUrl: string = import.meta.env.VITE_PARLEY_URL || window.location.origin;

export function transport(interceptors: Interceptor[] = []) {
  // Binary grpc-web (application/grpc-web+proto), the transport's default; parleyd refuses the JSON form.
  return createGrpcWebTransport({ baseUrl, interceptors });
}

/** For the calls that need no credentials: Register, Login, RefreshToken. */
export const publicAuth = createClient(AuthService, transport());
