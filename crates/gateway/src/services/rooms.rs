//! `chat.v1.RoomService`.

use api::v1::room_service_server::RoomService;
use api::v1::*;
use rooms::{Rooms, Scope};
use tonic::{Request, Response, Status};
use types::Violations;

use crate::convert::{self, room_id, user_id};
use crate::layer::caller;
use crate::status::{invalid, status};

#[derive(Debug)]
pub(crate) struct RoomsApi {
    pub(crate) rooms: Rooms,
    pub(crate) presence: presence::Presence,
}

#[tonic::async_trait]
impl RoomService for RoomsApi {
    async fn create_room(&self, request: Request<CreateRoomRequest>) -> Result<Response<CreateRoomResponse>, Status> {
        let who = caller(&request)?.user_id;
        let r = request.into_inner();
        let visibility = convert::visibility("visibility", r.visibility).map_err(|v| status(&Violations::from(v)))?;
        let view = self.rooms.create(who, &r.name, &r.topic, visibility).await.map_err(|e| status(&e))?;
        Ok(Response::new(CreateRoomResponse { room: Some(convert::room(&view)) }))
    }

    async fn get_room(&self, request: Request<GetRoomRequest>) -> Result<Response<GetRoomResponse>, Status> {
        let who = caller(&request)?.user_id;
        let room = room_id("room_id", &request.get_ref().room_id)?;
        let view = self.rooms.get(who, room).await.map_err(|e| status(&e))?;
        Ok(Response::new(GetRoomResponse { room: Some(convert::room(&view)) }))
    }

    async fn list_rooms(&self, request: Request<ListRoomsRequest>) -> Result<Response<ListRoomsResponse>, Status> {
        let who = caller(&request)?.user_id;
        let r = request.into_inner();
        let scope = match ListRoomsScope::try_from(r.scope) {
            Ok(ListRoomsScope::Unspecified | ListRoomsScope::Joined) => Scope::Joined,
            Ok(ListRoomsScope::Public) => Scope::Public,
            Ok(ListRoomsScope::Invited) => Scope::Invited,
            Err(_) => return Err(invalid("scope", format!("unknown value {}", r.scope))),
        };
        let size = convert::page_size("page_size", r.page_size).map_err(|v| status(&Violations::from(v)))?;
        let (views, next) =
            self.rooms.list(who, scope, size, &r.page_token, &r.name_filter).await.map_err(|e| status(&e))?;
        Ok(Response::new(ListRoomsResponse {
            rooms: views.iter().map(convert::room).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn join_room(&self, request: Request<JoinRoomRequest>) -> Result<Response<JoinRoomResponse>, Status> {
        let who = caller(&request)?.user_id;
        let room = room_id("room_id", &request.get_ref().room_id)?;
        let view = self.rooms.join(who, room).await.map_err(|e| status(&e))?;
        Ok(Response::new(JoinRoomResponse { room: Some(convert::room(&view)) }))
    }

    async fn leave_room(&self, request: Request<LeaveRoomRequest>) -> Result<Response<LeaveRoomResponse>, Status> {
        let who = caller(&request)?.user_id;
        let room = room_id("room_id", &request.get_ref().room_id)?;
        self.rooms.leave(who, room).await.map_err(|e| status(&e))?;
        Ok(Response::new(LeaveRoomResponse {}))
    }

    async fn invite_member(
        &self,
        request: Request<InviteMemberRequest>,
    ) -> Result<Response<InviteMemberResponse>, Status> {
        let who = caller(&request)?.user_id;
        let r = request.into_inner();
        let room = room_id("room_id", &r.room_id)?;
        if r.username.is_empty() {
            return Err(invalid("username", "is required"));
        }
        self.rooms.invite(who, room, &r.username).await.map_err(|e| status(&e))?;
        Ok(Response::new(InviteMemberResponse {}))
    }

    async fn remove_member(
        &self,
        request: Request<RemoveMemberRequest>,
    ) -> Result<Response<RemoveMemberResponse>, Status> {
        let who = caller(&request)?.user_id;
        let r = request.into_inner();
        let room = room_id("room_id", &r.room_id)?;
        let target = user_id("user_id", &r.user_id)?;
        self.rooms.remove(who, room, target).await.map_err(|e| status(&e))?;
        Ok(Response::new(RemoveMemberResponse {}))
    }

    async fn list_members(
        &self,
        request: Request<ListMembersRequest>,
    ) -> Result<Response<ListMembersResponse>, Status> {
        let who = caller(&request)?.user_id;
        let r = request.into_inner();
        let room = room_id("room_id", &r.room_id)?;
        let size = convert::page_size("page_size", r.page_size).map_err(|v| status(&Violations::from(v)))?;
        let (members, next) = self.rooms.members(who, room, size, &r.page_token).await.map_err(|e| status(&e))?;
        let ids: Vec<_> = members.iter().map(|m| m.user.id).collect();
        let statuses = self.presence.statuses(&ids);
        Ok(Response::new(ListMembersResponse {
            members: members.iter().zip(statuses).map(|(m, s)| convert::member(m, s)).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn set_member_role(
        &self,
        request: Request<SetMemberRoleRequest>,
    ) -> Result<Response<SetMemberRoleResponse>, Status> {
        let who = caller(&request)?.user_id;
        let r = request.into_inner();
        let room = room_id("room_id", &r.room_id)?;
        let target = user_id("user_id", &r.user_id)?;
        let role = convert::role("role", r.role).map_err(|v| status(&Violations::from(v)))?;
        self.rooms.set_role(who, room, target, role).await.map_err(|e| status(&e))?;
        Ok(Response::new(SetMemberRoleResponse {}))
    }

    async fn decline_invitation(
        &self,
        request: Request<DeclineInvitationRequest>,
    ) -> Result<Response<DeclineInvitationResponse>, Status> {
        let who = caller(&request)?.user_id;
        let room = room_id("room_id", &request.get_ref().room_id)?;
        self.rooms.decline(who, room).await.map_err(|e| status(&e))?;
        Ok(Response::new(DeclineInvitationResponse {}))
    }

    async fn get_direct_room(
        &self,
        request: Request<GetDirectRoomRequest>,
    ) -> Result<Response<GetDirectRoomResponse>, Status> {
        let who = caller(&request)?.user_id;
        let r = request.into_inner();
        if r.username.is_empty() {
            return Err(invalid("username", "is required"));
        }
        let view = self.rooms.direct(who, &r.username).await.map_err(|e| status(&e))?;
        Ok(Response::new(GetDirectRoomResponse { room: Some(convert::room(&view)) }))
    }
}
