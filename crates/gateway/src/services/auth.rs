//! `chat.v1.AuthService`.

use std::net::IpAddr;
use std::sync::Arc;

use api::v1::auth_service_server::AuthService;
use api::v1::*;
use auth::{Auth, LogoutScope, Registration};
use tonic::{Request, Response, Status};

use crate::convert::{account, tokens};
use crate::layer::caller;
use crate::status::status;

#[derive(Debug)]
pub(crate) struct AuthApi {
    pub(crate) auth: Arc<Auth>,
    /// Whether to take the client's address from `x-forwarded-for` (set when behind a trusted proxy).
    pub(crate) trust_forwarded_for: bool,
}

impl AuthApi {
    /// The address login throttling counts against.
    fn source<T>(&self, request: &Request<T>) -> Option<IpAddr> {
        if self.trust_forwarded_for {
            // The proxy appends the address it saw, so the last entry is the one to trust.
            let forwarded = request
                .metadata()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse().ok());
            if forwarded.is_some() {
                return forwarded;
            }
        }
        request.remote_addr().map(|a| a.ip())
    }
}

#[tonic::async_trait]
impl AuthService for AuthApi {
    async fn register(&self, request: Request<RegisterRequest>) -> Result<Response<RegisterResponse>, Status> {
        let r = request.into_inner();
        let registration = Registration {
            username: &r.username,
            email: &r.email,
            password: &r.password,
            display_name: &r.display_name,
        };
        let (acct, toks) = self.auth.register(registration).await.map_err(|e| status(&e))?;
        Ok(Response::new(RegisterResponse { user: Some(account(&acct)), tokens: Some(tokens(&toks)) }))
    }

    async fn login(&self, request: Request<LoginRequest>) -> Result<Response<LoginResponse>, Status> {
        let source = self.source(&request);
        let r = request.into_inner();
        let (acct, toks) = self.auth.login(&r.login, &r.password, source).await.map_err(|e| status(&e))?;
        Ok(Response::new(LoginResponse { user: Some(account(&acct)), tokens: Some(tokens(&toks)) }))
    }

    async fn refresh_token(
        &self,
        request: Request<RefreshTokenRequest>,
    ) -> Result<Response<RefreshTokenResponse>, Status> {
        let toks = self.auth.refresh(&request.into_inner().refresh_token).await.map_err(|e| status(&e))?;
        Ok(Response::new(RefreshTokenResponse { tokens: Some(tokens(&toks)) }))
    }

    async fn logout(&self, request: Request<LogoutRequest>) -> Result<Response<LogoutResponse>, Status> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let scope = match (r.all_sessions, r.refresh_token.as_str()) {
            (true, _) => LogoutScope::AllSessions,
            (false, "") => LogoutScope::ThisSession,
            (false, token) => LogoutScope::Session(token),
        };
        self.auth.logout(&who, scope).await.map_err(|e| status(&e))?;
        Ok(Response::new(LogoutResponse {}))
    }

    async fn get_me(&self, request: Request<GetMeRequest>) -> Result<Response<GetMeResponse>, Status> {
        let who = caller(&request)?;
        let acct = self.auth.me(&who).await.map_err(|e| status(&e))?;
        Ok(Response::new(GetMeResponse { user: Some(account(&acct)) }))
    }
}
