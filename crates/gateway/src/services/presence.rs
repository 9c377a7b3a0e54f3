//! `chat.v1.PresenceService`.

use api::v1::presence_service_server::PresenceService;
use api::v1::*;
use presence::Presence;
use tonic::{Request, Response, Status};
use types::PresenceStatus;

use crate::convert::{self, room_id};
use crate::layer::caller;
use crate::status::{invalid, status};

#[derive(Debug)]
pub(crate) struct PresenceApi {
    pub(crate) presence: Presence,
}

#[tonic::async_trait]
impl PresenceService for PresenceApi {
    async fn list_online_users(
        &self,
        request: Request<ListOnlineUsersRequest>,
    ) -> Result<Response<ListOnlineUsersResponse>, Status> {
        let who = caller(&request)?.user_id;
        let room = match request.get_ref().room_id.as_str() {
            "" => None,
            id => Some(room_id("room_id", id)?),
        };
        let users = self.presence.online(who, room).await.map_err(|e| status(&e))?;
        Ok(Response::new(ListOnlineUsersResponse {
            users: users.iter().map(|u| convert::user_presence(&u.user, u.status, u.last_seen_at)).collect(),
        }))
    }

    async fn set_presence(
        &self,
        request: Request<SetPresenceRequest>,
    ) -> Result<Response<SetPresenceResponse>, Status> {
        let who = caller(&request)?.user_id;
        let value = request.get_ref().status;
        let status_value = match api::v1::PresenceStatus::try_from(value) {
            Ok(api::v1::PresenceStatus::Online) => PresenceStatus::Online,
            Ok(api::v1::PresenceStatus::Away) => PresenceStatus::Away,
            Ok(api::v1::PresenceStatus::Offline) => PresenceStatus::Offline,
            Ok(api::v1::PresenceStatus::Unspecified) | Err(_) => {
                return Err(invalid("status", "must be PRESENCE_STATUS_ONLINE or PRESENCE_STATUS_AWAY"));
            }
        };
        self.presence.set_status(who, status_value).map_err(|e| status(&e))?;
        Ok(Response::new(SetPresenceResponse {}))
    }
}
