//! `parleyd admin …`: the operators' commands, on the database and cluster the server's own flags and
//! `PARLEY_*` variables name. Results go to stdout, one line each (sessions: a table); errors to stderr, as
//! for the server.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::{Context as _, bail};

use crate::config::{AdminCommand, Config};

/// Runs one command.
pub(crate) async fn run(config: &Config, command: &AdminCommand) -> anyhow::Result<()> {
    let data_dir = crate::data_dir(config);
    let url = crate::database_url(config, &data_dir);
    if config.database_url.is_none() && !data_dir.join("parley.db").is_file() {
        bail!(
            "no database at {}: give the server's --database-url or --data-dir (or PARLEY_DATABASE_URL)",
            data_dir.join("parley.db").display()
        );
    }
    let db = crate::open_database(config, &url).await?;
    let admin = gateway::Admin::new(db, crate::cluster_config(config))?;
    match command {
        AdminCommand::CreateUser { username, email, display_name } => {
            let password = new_password()?;
            let registration = gateway::Registration { username, email, password: &password, display_name };
            let account = admin.create_user(registration).await?;
            say(&format!("created {} ({})", account.user.username, account.user.id))
        }
        AdminCommand::ResetPassword { user } => {
            let password = new_password()?;
            admin.reset_password(user, &password).await?;
            say(&format!("set a new password for {user}; its sessions have ended"))
        }
        AdminCommand::Disable { user } => {
            admin.disable(user).await?;
            say(&format!("disabled {user}; its sessions have ended"))
        }
        AdminCommand::Enable { user } => {
            admin.enable(user).await?;
            say(&format!("enabled {user}"))
        }
        AdminCommand::Sessions { user } => {
            let found = admin.user(user).await?;
            let sessions = admin.sessions(user).await?;
            let state = if found.disabled_at.is_some() { "disabled" } else { "enabled" };
            let mut lines = vec![format!("{} ({}), {state}", found.account.user.username, found.account.user.id)];
            lines.push(format!("{:<36}  {:<20}  {:<20}  state", "session", "signed in", "expires"));
            let now = gateway::Millis::now();
            for s in sessions {
                let state = match s.revoked_at {
                    Some(at) => format!("ended {}", time(at)),
                    None if s.expires_at <= now => "expired".to_owned(),
                    None => "live".to_owned(),
                };
                lines.push(format!("{:<36}  {:<20}  {:<20}  {state}", s.id, time(s.created_at), time(s.expires_at)));
            }
            say(&lines.join("\n"))
        }
        AdminCommand::Revoke { user, session, all } => {
            let session = match (session, all) {
                (Some(id), false) => Some(id.parse::<gateway::SessionId>().context("that is not a session id")?),
                _ => None,
            };
            admin.revoke(user, session).await?;
            match session {
                Some(id) => say(&format!("ended session {id} of {user}")),
                None => say(&format!("ended every session of {user}")),
            }
        }
        AdminCommand::DeleteRoom { room } => {
            let id = room.parse::<gateway::RoomId>().context("that is not a room id")?;
            admin.delete_room(id).await?;
            say(&format!("deleted room {id}"))
        }
    }
}

fn say(text: &str) -> anyhow::Result<()> {
    writeln!(std::io::stdout(), "{text}").context("cannot write to stdout")
}

/// A time as UTC, to the second.
fn time(at: gateway::Millis) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(at.0).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
}

/// A new password: asked for twice at a terminal, else the first line of standard input (for scripts:
/// `printf '%s\n' "$PASSWORD" | parleyd admin …`). Never echoed, logged or taken from the command line,
/// where other users of the host could read it.
fn new_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New password: ").context("cannot read the password")?;
        let again = rpassword::prompt_password("Again: ").context("cannot read the password")?;
        if first != again {
            bail!("the two passwords differ");
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
    let password = line.strip_suffix('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).unwrap_or(&line);
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password.to_owned())
}
