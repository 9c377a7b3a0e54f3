//! `chat.v1.AuthService`.

use std::net::IpAddr;
use std::sync::Arc;

use api::v1::auth_service_server::AuthService;
use api::v1::*;
use auth::{Auth, LogoutScope, Registration};
use tonic::{Request, Response, Status};

use crate::convert::{account, tokens};
use crate::layer::{ClientAddress, caller};
use crate::status::status;

#[derive(Debug)]
pub(crate) struct AuthApi {
    pub(crate) auth: Arc<Auth>,
}

impl AuthApi {
    /// The address login throttling counts against (worked out by the call layer).
    fn source<T>(request: &Request<T>) -> Option<IpAddr> {
        request.extensions().get::<ClientAddress>().and_then(|a| a.0)
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
        let source = Self::source(&request);
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
