//! `parley`, the command-line client. Sign in once (`parley login`), then talk: `parley send general hi`,
//! `parley tail`. The session is kept in the config directory and refreshed transparently; `parley tail`
//! resumes from the last seq it printed after a dropped connection, so it shows every message exactly once.

// A terminal program: printing is its output, not stray debugging (the lint exists for libraries).
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod output;
mod session;

use std::collections::HashMap;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use api::v1::auth_service_client::AuthServiceClient;
use api::v1::message_service_client::MessageServiceClient;
use api::v1::presence_service_client::PresenceServiceClient;
use api::v1::room_service_client::RoomServiceClient;
use api::v1::subscribe_response::Event;
use api::v1::*;
use clap::{Parser, Subcommand};
use session::{Saved, Session, Store};
use tonic::transport::Channel;
use tonic::{Code, Status};

/// Command-line client for a Parley chat server.
#[derive(Parser)]
#[command(name = "parley", version, about, long_about = None)]
struct Cli {
    /// The server. [default: the one you signed in to, else http://127.0.0.1:50051]
    #[arg(long, env = "PARLEY_SERVER", global = true, value_name = "URL")]
    server: Option<String>,

    /// Where the session is kept. [default: ~/.config/parley]
    #[arg(long, env = "PARLEY_CONFIG_DIR", global = true, value_name = "DIR")]
    config_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create an account and sign in.
    Register {
        username: String,
        email: String,
        /// Name to show (default: the username).
        #[arg(long, default_value = "")]
        display_name: String,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Sign in with a username or email.
    Login {
        login: String,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Show who you are signed in as.
    Whoami,
    /// Sign out (this session, or every session with --all).
    Logout {
        #[arg(long)]
        all: bool,
    },
    /// List your rooms, the public directory (--public) or your invitations (--invited).
    Rooms {
        #[arg(long, conflicts_with = "invited")]
        public: bool,
        #[arg(long)]
        invited: bool,
        /// Only rooms whose name contains this.
        #[arg(long)]
        filter: Option<String>,
    },
    /// Manage a room.
    Room {
        #[command(subcommand)]
        action: RoomCommand,
    },
    /// Open (or create) your direct conversation with a user.
    Dm { username: String },
    /// Send a message. ROOM is a room id, the name of one of your rooms, or @user for a direct conversation.
    Send {
        room: String,
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
        /// Reply to the message with this seq.
        #[arg(long, value_name = "SEQ")]
        reply_to: Option<i64>,
    },
    /// Replace the text of one of your messages.
    Edit {
        room: String,
        seq: i64,
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
    },
    /// Delete a message (yours, or anyone's in a room you own or administer).
    Delete { room: String, seq: i64 },
    /// React to a message with an emoji or a :short_code: (--remove takes your reaction back).
    React {
        room: String,
        seq: i64,
        emoji: String,
        #[arg(long)]
        remove: bool,
    },
    /// Show a room's recent history.
    History {
        room: String,
        /// How many entries.
        #[arg(long, default_value_t = 20)]
        limit: i32,
        /// Only entries before this seq.
        #[arg(long)]
        before: Option<i64>,
    },
    /// Print messages as they arrive, in the given rooms or in all of yours. Reconnects and resumes after a
    /// dropped connection without missing or repeating anything.
    Tail { rooms: Vec<String> },
    /// Show who is online, in a room or among everyone you share a room with.
    Who { room: Option<String> },
    /// List your rooms with unread messages: how many, and how many of them mention you.
    Unread,
    /// Mark a room read, up to its newest entry (or up to --seq).
    Read {
        room: String,
        #[arg(long)]
        seq: Option<i64>,
    },
    /// Find messages with every one of these words, newest first, in all your rooms or in --room.
    Search {
        #[arg(required = true, num_args = 1..)]
        words: Vec<String>,
        #[arg(long)]
        room: Option<String>,
        /// How many results.
        #[arg(long, default_value_t = 20)]
        limit: i32,
    },
}

#[derive(Subcommand)]
enum RoomCommand {
    /// Create a room (public unless --private).
    Create {
        name: String,
        #[arg(long, default_value = "")]
        topic: String,
        #[arg(long)]
        private: bool,
    },
    /// Join a public room, or a private one you are invited to.
    Join { room: String },
    /// Decline an invitation (it ends on all your devices).
    Decline { room: String },
    /// Leave a room.
    Leave { room: String },
    /// Invite a user.
    Invite { room: String, username: String },
    /// List a room's members.
    Members { room: String },
    /// Remove a member (owners and admins).
    Remove { room: String, username: String },
    /// Give a member a role: owner, admin or member (owner only).
    Role { room: String, username: String, role: String },
}

const DEFAULT_SERVER: &str = "http://127.0.0.1:50051";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "parley: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "parley: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let store = Store::new(cli.config_dir)?;
    let server = cli.server.as_deref();
    match cli.command {
        Command::Register { username, email, display_name, password_stdin } => {
            let url = server_url(&store, server)?;
            let password = password(password_stdin, true)?;
            let request = RegisterRequest { username, email, password, display_name };
            let r = AuthServiceClient::new(session::connect(&url).await?).register(request).await.map_err(describe)?;
            let r = r.into_inner();
            signed_in(&store, &url, r.user.unwrap_or_default(), r.tokens.unwrap_or_default())
        }
        Command::Login { login, password_stdin } => {
            let url = server_url(&store, server)?;
            let password = password(password_stdin, false)?;
            let r = AuthServiceClient::new(session::connect(&url).await?)
                .login(LoginRequest { login, password })
                .await
                .map_err(describe)?
                .into_inner();
            signed_in(&store, &url, r.user.unwrap_or_default(), r.tokens.unwrap_or_default())
        }
        Command::Whoami => {
            let mut s = Session::open(store, server).await?;
            let me =
                call(&mut s, GetMeRequest {}, |c, r| async move { AuthServiceClient::new(c).get_me(r).await }).await?;
            let me = me.user.unwrap_or_default();
            println!("{} ({}) <{}>", me.username, me.display_name, me.email);
            println!("id {}  server {}", me.id, s.saved.server);
            Ok(())
        }
        Command::Logout { all } => {
            let mut s = Session::open(store, server).await?;
            let request = LogoutRequest { refresh_token: String::new(), all_sessions: all };
            let result = call(&mut s, request, |c, r| async move { AuthServiceClient::new(c).logout(r).await }).await;
            s.store().forget()?;
            result?;
            println!("signed out{}", if all { " everywhere" } else { "" });
            Ok(())
        }
        Command::Rooms { public, invited, filter } => {
            let mut s = Session::open(store, server).await?;
            let scope = if public {
                ListRoomsScope::Public
            } else if invited {
                ListRoomsScope::Invited
            } else {
                ListRoomsScope::Joined
            };
            let rooms = list_rooms(&mut s, scope, filter.unwrap_or_default()).await?;
            output::rooms(&rooms);
            Ok(())
        }
        Command::Room { action } => room(Session::open(store, server).await?, action).await,
        Command::Dm { username } => {
            let mut s = Session::open(store, server).await?;
            let request = GetDirectRoomRequest { username };
            let r =
                call(&mut s, request, |c, r| async move { RoomServiceClient::new(c).get_direct_room(r).await }).await?;
            output::rooms(&r.room.into_iter().collect::<Vec<_>>());
            Ok(())
        }
        Command::Send { room, text, reply_to } => {
            let mut s = Session::open(store, server).await?;
            let room = resolve(&mut s, &room).await?;
            let message = send(&mut s, &room.id, &text.join(" "), reply_to.unwrap_or(0)).await?;
            println!("sent #{}", message.seq);
            Ok(())
        }
        Command::Edit { room, seq, text } => {
            let mut s = Session::open(store, server).await?;
            let room = resolve(&mut s, &room).await?;
            let request = EditMessageRequest {
                room_id: room.id.clone(),
                seq,
                body: text.join(" "),
                client_message_id: uuid::Uuid::new_v4().to_string(),
            };
            call(&mut s, request, |c, r| async move { MessageServiceClient::new(c).edit_message(r).await }).await?;
            println!("edited #{seq}");
            Ok(())
        }
        Command::Delete { room, seq } => {
            let mut s = Session::open(store, server).await?;
            let room = resolve(&mut s, &room).await?;
            let request = DeleteMessageRequest { room_id: room.id.clone(), seq };
            call(&mut s, request, |c, r| async move { MessageServiceClient::new(c).delete_message(r).await }).await?;
            println!("deleted #{seq}");
            Ok(())
        }
        Command::React { room, seq, emoji, remove } => {
            let mut s = Session::open(store, server).await?;
            let room = resolve(&mut s, &room).await?;
            if remove {
                let request = RemoveReactionRequest { room_id: room.id.clone(), seq, emoji };
                call(&mut s, request, |c, r| async move { MessageServiceClient::new(c).remove_reaction(r).await })
                    .await?;
                println!("reaction to #{seq} taken back");
            } else {
                let request = AddReactionRequest { room_id: room.id.clone(), seq, emoji };
                call(&mut s, request, |c, r| async move { MessageServiceClient::new(c).add_reaction(r).await }).await?;
                println!("reacted to #{seq}");
            }
            Ok(())
        }
        Command::History { room, limit, before } => {
            let mut s = Session::open(store, server).await?;
            let room = resolve(&mut s, &room).await?;
            let request =
                ListMessagesRequest { room_id: room.id.clone(), before_seq: before.unwrap_or(0), after_seq: 0, limit };
            let page = call(&mut s, request, |c, r| async move { MessageServiceClient::new(c).list_messages(r).await })
                .await?;
            let names = HashMap::from([(room.id.clone(), output::room_label(&room))]);
            for m in &page.messages {
                println!("{}", output::message(m, &names));
            }
            if page.has_more
                && let Some(first) = page.messages.first()
            {
                println!("(older: parley history {} --before {})", room.id, first.seq);
            }
            Ok(())
        }
        Command::Tail { rooms } => tail(Session::open(store, server).await?, rooms).await,
        Command::Unread => {
            let mut s = Session::open(store, server).await?;
            let rooms = list_rooms(&mut s, ListRoomsScope::Joined, String::new()).await?;
            output::unread(&rooms);
            Ok(())
        }
        Command::Read { room, seq } => {
            let mut s = Session::open(store, server).await?;
            let room = resolve(&mut s, &room).await?;
            let request = MarkReadRequest { room_id: room.id.clone(), seq: seq.unwrap_or(room.last_seq) };
            let r =
                call(&mut s, request, |c, r| async move { MessageServiceClient::new(c).mark_read(r).await }).await?;
            println!("{} read up to #{}", output::room_label(&room), r.last_read_seq);
            Ok(())
        }
        Command::Search { words, room, limit } => {
            let mut s = Session::open(store, server).await?;
            let room_id = match room {
                Some(room) => resolve(&mut s, &room).await?.id,
                None => String::new(),
            };
            let request =
                SearchMessagesRequest { query: words.join(" "), room_id, page_size: limit, page_token: String::new() };
            let r = call(&mut s, request, |c, r| async move { MessageServiceClient::new(c).search_messages(r).await })
                .await?;
            let names: HashMap<String, String> = list_rooms(&mut s, ListRoomsScope::Joined, String::new())
                .await?
                .iter()
                .map(|room| (room.id.clone(), output::room_label(room)))
                .collect();
            if r.results.is_empty() {
                println!("nothing found");
            }
            for m in r.results.iter().filter_map(|r| r.message.as_ref()) {
                println!("{}", output::message(m, &names));
            }
            Ok(())
        }
        Command::Who { room } => {
            let mut s = Session::open(store, server).await?;
            let room_id = match room {
                Some(room) => resolve(&mut s, &room).await?.id,
                None => String::new(),
            };
            let request = ListOnlineUsersRequest { room_id };
            let r =
                call(&mut s, request, |c, r| async move { PresenceServiceClient::new(c).list_online_users(r).await })
                    .await?;
            for u in &r.users {
                println!("{}", output::presence(u));
            }
            if r.users.is_empty() {
                println!("nobody is online");
            }
            Ok(())
        }
    }
}

async fn room(mut s: Session, action: RoomCommand) -> anyhow::Result<()> {
    match action {
        RoomCommand::Create { name, topic, private } => {
            let visibility = if private { Visibility::Private } else { Visibility::Public };
            let request = CreateRoomRequest { name, topic, visibility: visibility.into() };
            let r = call(&mut s, request, |c, r| async move { RoomServiceClient::new(c).create_room(r).await }).await?;
            output::rooms(&r.room.into_iter().collect::<Vec<_>>());
        }
        RoomCommand::Join { room } => {
            let room_id = resolve_any(&mut s, &room).await?;
            let r = call(&mut s, JoinRoomRequest { room_id }, |c, r| async move {
                RoomServiceClient::new(c).join_room(r).await
            })
            .await?;
            output::rooms(&r.room.into_iter().collect::<Vec<_>>());
        }
        RoomCommand::Decline { room } => {
            let room_id = resolve_any(&mut s, &room).await?;
            call(&mut s, DeclineInvitationRequest { room_id }, |c, r| async move {
                RoomServiceClient::new(c).decline_invitation(r).await
            })
            .await?;
            println!("declined the invitation to {room}");
        }
        RoomCommand::Leave { room } => {
            let room = resolve(&mut s, &room).await?;
            call(&mut s, LeaveRoomRequest { room_id: room.id.clone() }, |c, r| async move {
                RoomServiceClient::new(c).leave_room(r).await
            })
            .await?;
            println!("left {}", output::room_label(&room));
        }
        RoomCommand::Invite { room, username } => {
            let room = resolve(&mut s, &room).await?;
            let request = InviteMemberRequest { room_id: room.id.clone(), username: username.clone() };
            call(&mut s, request, |c, r| async move { RoomServiceClient::new(c).invite_member(r).await }).await?;
            println!("invited {username} to {}", output::room_label(&room));
        }
        RoomCommand::Members { room } => {
            let room = resolve(&mut s, &room).await?;
            for m in members(&mut s, &room.id).await? {
                println!("{}", output::member(&m));
            }
        }
        RoomCommand::Remove { room, username } => {
            let room = resolve(&mut s, &room).await?;
            let user_id = member_id(&mut s, &room.id, &username).await?;
            let request = RemoveMemberRequest { room_id: room.id.clone(), user_id };
            call(&mut s, request, |c, r| async move { RoomServiceClient::new(c).remove_member(r).await }).await?;
            println!("removed {username} from {}", output::room_label(&room));
        }
        RoomCommand::Role { room, username, role } => {
            let role = match role.to_ascii_lowercase().as_str() {
                "owner" => Role::Owner,
                "admin" => Role::Admin,
                "member" => Role::Member,
                other => bail!("unknown role {other:?}: use owner, admin or member"),
            };
            let room = resolve(&mut s, &room).await?;
            let user_id = member_id(&mut s, &room.id, &username).await?;
            let request = SetMemberRoleRequest { room_id: room.id.clone(), user_id, role: role.into() };
            call(&mut s, request, |c, r| async move { RoomServiceClient::new(c).set_member_role(r).await }).await?;
            println!("{username} is now {} of {}", output::role(role), output::room_label(&room));
        }
    }
    Ok(())
}

fn server_url(store: &Store, server: Option<&str>) -> anyhow::Result<String> {
    Ok(match server {
        Some(url) => url.to_owned(),
        None => store.load().ok().flatten().map_or_else(|| DEFAULT_SERVER.to_owned(), |s| s.server),
    })
}

fn signed_in(store: &Store, url: &str, user: User, tokens: Tokens) -> anyhow::Result<()> {
    store.save(&Saved::new(url, &user, &tokens))?;
    println!("signed in as {} (session kept in {})", user.username, store.location().display());
    Ok(())
}

/// Reads a password: prompted without echo on a terminal, else the first line of standard input.
fn password(from_stdin: bool, confirm: bool) -> anyhow::Result<String> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        // Only the line ending is removed: passwords are used exactly as typed.
        return Ok(line.strip_suffix('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).unwrap_or(&line).to_owned());
    }
    let password = rpassword::prompt_password("password: ")?;
    if confirm && rpassword::prompt_password("again: ")? != password {
        bail!("the passwords differ");
    }
    Ok(password)
}

/// The stable reason a status carries (`google.rpc.ErrorInfo.reason`, listed in the protos), if any. The
/// client decides what to do by this, never by the message text.
pub(crate) fn reason(status: &Status) -> Option<String> {
    use tonic_types::StatusExt as _;
    status.get_details_error_info().map(|info| info.reason)
}

/// A status as a person should read it.
pub(crate) fn describe(status: Status) -> anyhow::Error {
    match status.code() {
        Code::Unavailable => anyhow::anyhow!("server unavailable: {}", status.message()),
        _ => anyhow::anyhow!("{}", status.message()),
    }
}

/// Calls an authenticated RPC; if the server says the access token expired, refreshes once and retries.
async fn call<T, R, F, Fut>(s: &mut Session, message: T, rpc: F) -> anyhow::Result<R>
where
    T: Clone,
    F: Fn(Channel, tonic::Request<T>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<R>, Status>>,
{
    let request = s.req(message.clone()).await?;
    match rpc(s.channel.clone(), request).await {
        Err(status) if reason(&status).as_deref() == Some("TOKEN_EXPIRED") => {
            s.refresh().await?;
            let request = s.req(message).await?;
            rpc(s.channel.clone(), request).await.map(tonic::Response::into_inner).map_err(describe)
        }
        Err(status) if status.code() == Code::Unauthenticated => {
            bail!("{}; run parley login", status.message())
        }
        other => other.map(tonic::Response::into_inner).map_err(describe),
    }
}

async fn list_rooms(s: &mut Session, scope: ListRoomsScope, filter: String) -> anyhow::Result<Vec<Room>> {
    let mut rooms = Vec::new();
    let mut token = String::new();
    loop {
        let request =
            ListRoomsRequest { scope: scope.into(), page_size: 200, page_token: token, name_filter: filter.clone() };
        let page = call(s, request, |c, r| async move { RoomServiceClient::new(c).list_rooms(r).await }).await?;
        rooms.extend(page.rooms);
        if page.next_page_token.is_empty() {
            return Ok(rooms);
        }
        token = page.next_page_token;
    }
}

/// One of the user's rooms, by id, by name (without regard to case), or `@user` for a direct room.
async fn resolve(s: &mut Session, name: &str) -> anyhow::Result<Room> {
    if uuid::Uuid::parse_str(name).is_ok() {
        let request = GetRoomRequest { room_id: name.to_owned() };
        let r = call(s, request, |c, r| async move { RoomServiceClient::new(c).get_room(r).await }).await?;
        return r.room.context("no room in the answer");
    }
    let rooms = list_rooms(s, ListRoomsScope::Joined, String::new()).await?;
    let wanted = name.to_lowercase();
    let mut matches: Vec<Room> = rooms
        .into_iter()
        .filter(|r| match wanted.strip_prefix('@') {
            Some(peer) => r.direct_peer.as_ref().is_some_and(|p| p.username.to_lowercase() == peer),
            None => r.name.to_lowercase() == wanted,
        })
        .collect();
    match matches.len() {
        1 => Ok(matches.remove(0)),
        0 => bail!(
            "none of your rooms is called {name:?} (see parley rooms; use a room id for rooms you have not joined)"
        ),
        n => bail!("{n} of your rooms are called {name:?}; use the room id (see parley rooms)"),
    }
}

/// A room id for rooms the user may not have joined yet: an id, or one of the user's rooms by name, or a
/// public room by exact name.
async fn resolve_any(s: &mut Session, name: &str) -> anyhow::Result<String> {
    if uuid::Uuid::parse_str(name).is_ok() {
        return Ok(name.to_owned());
    }
    let public = list_rooms(s, ListRoomsScope::Public, name.to_owned()).await?;
    let invited = list_rooms(s, ListRoomsScope::Invited, name.to_owned()).await?;
    let wanted = name.to_lowercase();
    let mut matches: Vec<String> =
        public.into_iter().chain(invited).filter(|r| r.name.to_lowercase() == wanted).map(|r| r.id).collect();
    matches.dedup();
    match matches.len() {
        1 => Ok(matches.remove(0)),
        0 => bail!("no public room or invitation is called {name:?}"),
        n => bail!("{n} rooms are called {name:?}; use the room id (see parley rooms --public)"),
    }
}

async fn members(s: &mut Session, room: &str) -> anyhow::Result<Vec<Member>> {
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let request = ListMembersRequest { room_id: room.to_owned(), page_size: 200, page_token: token };
        let page = call(s, request, |c, r| async move { RoomServiceClient::new(c).list_members(r).await }).await?;
        all.extend(page.members);
        if page.next_page_token.is_empty() {
            return Ok(all);
        }
        token = page.next_page_token;
    }
}

async fn member_id(s: &mut Session, room: &str, username: &str) -> anyhow::Result<String> {
    let wanted = username.to_lowercase();
    members(s, room)
        .await?
        .into_iter()
        .filter_map(|m| m.user)
        .find(|u| u.username.to_lowercase() == wanted)
        .map(|u| u.id)
        .with_context(|| format!("{username} is not a member of this room"))
}

/// Sends with a fresh client message id, retrying transient failures with the same id (the server stores
/// it once however often it arrives).
async fn send(s: &mut Session, room: &str, text: &str, reply_to_seq: i64) -> anyhow::Result<Message> {
    let request = SendMessageRequest {
        room_id: room.to_owned(),
        body: text.to_owned(),
        client_message_id: uuid::Uuid::new_v4().to_string(),
        reply_to_seq,
    };
    let mut delay = Duration::from_millis(200);
    for attempt in 1.. {
        let sent = s.req(request.clone()).await?;
        match MessageServiceClient::new(s.channel.clone()).send_message(sent).await {
            Ok(r) => return r.into_inner().message.context("no message in the answer"),
            Err(status) if status.code() == Code::Unavailable && attempt < 5 => {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(status) => return Err(describe(status)),
        }
    }
    unreachable!("the loop returns")
}

/// `parley tail`: prints every entry after the point it starts, reconnecting with its cursors when the
/// connection drops.
async fn tail(mut s: Session, rooms: Vec<String>) -> anyhow::Result<()> {
    let mut names: HashMap<String, String> = HashMap::new();
    // Cursors of the rooms shown, in the order given. Empty on the first connection of "all rooms".
    let mut cursors: Vec<(String, i64)> = Vec::new();
    let follow = rooms.is_empty();
    for room in &rooms {
        let room = resolve(&mut s, room).await?;
        names.insert(room.id.clone(), output::room_label(&room));
        cursors.push((room.id.clone(), room.last_seq));
    }
    let mut delay = Duration::from_millis(500);
    loop {
        let request = SubscribeRequest {
            rooms: cursors
                .iter()
                .map(|(room_id, after_seq)| RoomCursor { room_id: room_id.clone(), after_seq: *after_seq })
                .collect(),
            follow_joins: follow,
        };
        let opened = match s.req(request).await {
            Ok(request) => MessageServiceClient::new(s.channel.clone()).subscribe(request).await,
            Err(e) => return Err(e),
        };
        let status = match opened {
            Ok(response) => {
                let mut stream = response.into_inner();
                loop {
                    match stream.message().await {
                        Ok(Some(event)) => {
                            delay = Duration::from_millis(500);
                            if let Some(event) = event.event {
                                show(&mut s, event, &mut cursors, &mut names).await;
                            }
                        }
                        Ok(None) => break Status::unavailable("the server ended the stream"),
                        Err(status) => break status,
                    }
                }
            }
            Err(status) => status,
        };
        match status.code() {
            Code::Unauthenticated if reason(&status).as_deref() == Some("TOKEN_EXPIRED") => {
                // An expired token ends nothing but this attempt.
                s.refresh().await?;
            }
            Code::Unauthenticated => bail!("{}; run parley login", status.message()),
            Code::NotFound | Code::PermissionDenied => {
                // A room went away while we were disconnected: drop the rooms we may no longer read.
                let mut kept = Vec::new();
                for (room_id, seq) in cursors {
                    let request = GetRoomRequest { room_id: room_id.clone() };
                    let visible =
                        call(&mut s, request, |c, r| async move { RoomServiceClient::new(c).get_room(r).await }).await;
                    match visible {
                        Ok(r) if r.room.as_ref().is_some_and(|r| r.caller_role() != Role::Unspecified) => {
                            kept.push((room_id, seq))
                        }
                        _ => eprintln!("* no longer in {}", names.get(&room_id).cloned().unwrap_or(room_id)),
                    }
                }
                if kept.is_empty() && !follow {
                    bail!("none of the rooms can be followed any more");
                }
                cursors = kept;
            }
            Code::InvalidArgument => bail!("{}", status.message()),
            _ => {
                eprintln!("* connection lost ({}); reconnecting in {:.1} s", status.message(), delay.as_secs_f32());
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(15));
            }
        }
    }
}

async fn show(s: &mut Session, event: Event, cursors: &mut Vec<(String, i64)>, names: &mut HashMap<String, String>) {
    let cursor =
        |cursors: &mut Vec<(String, i64)>, room: &str| -> Option<usize> { cursors.iter().position(|(r, _)| r == room) };
    match event {
        Event::Ready(ready) => {
            for c in ready.rooms {
                if cursor(cursors, &c.room_id).is_none() {
                    cursors.push((c.room_id.clone(), c.after_seq));
                }
                if !names.contains_key(&c.room_id)
                    && let Ok(room) = resolve(s, &c.room_id).await
                {
                    names.insert(c.room_id.clone(), output::room_label(&room));
                }
            }
        }
        Event::Message(m) => {
            println!("{}", output::message(&m, names));
            if let Some(i) = cursor(cursors, &m.room_id) {
                cursors[i].1 = m.seq;
            }
        }
        Event::PresenceChanged(p) => {
            if let Some(p) = p.presence {
                println!("{}", output::presence_change(&p));
            }
        }
        Event::RoomAdded(added) => {
            if let Some(room) = added.room {
                println!("* now following {}", output::room_label(&room));
                names.insert(room.id.clone(), output::room_label(&room));
                if cursor(cursors, &room.id).is_none() {
                    cursors.push((room.id, added.after_seq));
                }
            }
        }
        Event::RoomRemoved(removed) => {
            let label = names.get(&removed.room_id).cloned().unwrap_or_else(|| removed.room_id.clone());
            println!(
                "* stopped following {label} ({})",
                match removed.reason() {
                    RoomRemovedReason::Removed => "removed",
                    RoomRemovedReason::Deleted => "the room was deleted",
                    _ => "left",
                }
            );
            cursors.retain(|(r, _)| *r != removed.room_id);
        }
        Event::InvitationReceived(invitation) => {
            if let Some(room) = invitation.room {
                println!(
                    "* {} invited you to {} (parley room join {})",
                    invitation.inviter_username,
                    output::room_label(&room),
                    room.id
                );
            }
        }
        Event::InvitationEnded(ended) => {
            let label = names.get(&ended.room_id).cloned().unwrap_or_else(|| ended.room_id.clone());
            println!("* invitation to {label} declined");
        }
        Event::Typing(t) => {
            if t.typing {
                let label = names.get(&t.room_id).cloned().unwrap_or_else(|| t.room_id.clone());
                println!("[{label}] * {} is typing…", t.username);
            }
        }
        // Read state is for screens that show unread counts; the follower prints timelines only.
        Event::Heartbeat(_) | Event::ReadMarker(_) | Event::ReadReceipt(_) => {}
    }
    let _ = std::io::stdout().flush();
}
