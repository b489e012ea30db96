//! `switchyard user …` and `switchyard token …`: staff accounts and API tokens, managed on the
//! server (the first admin can only be made here).

use std::io::BufRead;
use std::path::Path;

use anyhow::{Context, bail};

use crate::cli::{TokenCommand, UserCommand};
use crate::commands::open_store;
use crate::config::Settings;
use crate::store::staff::AccountStore;
use crate::web::auth::{hash_password, new_token, sha256_hex};

/// Who made a change from the command line, for the audit trail: the operating-system user.
fn operator() -> String {
    let name = ["SUDO_USER", "USER", "LOGNAME"].iter().find_map(|v| std::env::var(v).ok().filter(|n| !n.is_empty()));
    // SAFETY: getuid has no preconditions and cannot fail.
    format!("cli:{}", name.unwrap_or_else(|| format!("uid {}", unsafe { libc::getuid() })))
}

pub async fn user(settings: &Settings, data_dir: &Path, command: UserCommand) -> anyhow::Result<()> {
    let store = open_store(settings, data_dir).await?;
    let by = operator();
    match command {
        UserCommand::Add { name, role, password_env } => {
            let hash = hash_password(&password(password_env.as_deref())?)?;
            store.add_user(&name, role, &hash, &by).await?;
            eprintln!("user {name} added ({role})");
        }
        UserCommand::List { json } => {
            for u in store.users().await? {
                if json {
                    println!("{}", serde_json::to_string(&u)?);
                } else {
                    let state = if u.disabled { "disabled" } else { "active" };
                    println!("{:<24} {:<11} {:<9} since {}", u.username, u.role, state, u.created_at.format("%Y-%m-%d"));
                }
            }
        }
        UserCommand::Passwd { name, password_env } => {
            store.set_password(&name, &hash_password(&password(password_env.as_deref())?)?, &by).await?;
            eprintln!("password of {name} changed; their sessions are ended");
        }
        UserCommand::Role { name, role } => {
            store.set_role(&name, role, &by).await?;
            eprintln!("{name} is now {role}; their sessions are ended");
        }
        UserCommand::Disable { name } => {
            store.set_disabled(&name, true, &by).await?;
            eprintln!("{name} disabled: no sign-in, no tokens");
        }
        UserCommand::Enable { name } => {
            store.set_disabled(&name, false, &by).await?;
            eprintln!("{name} enabled");
        }
    }
    Ok(())
}

pub async fn token(settings: &Settings, data_dir: &Path, command: TokenCommand) -> anyhow::Result<()> {
    let store = open_store(settings, data_dir).await?;
    let by = operator();
    match command {
        TokenCommand::Add { user, name } => {
            let name = name.trim();
            if name.is_empty() || name.len() > 64 {
                bail!("the token's name must be 1 to 64 characters");
            }
            let token = new_token();
            store.add_token(&user, name, &sha256_hex(&token), &by).await?;
            // The only time the token exists outside the caller's hands: stdout, for a pipe.
            println!("{token}");
            eprintln!("token `{name}` for {user} issued; it is not shown again");
        }
        TokenCommand::List { json } => {
            for t in store.tokens().await? {
                if json {
                    println!("{}", serde_json::to_string(&t)?);
                } else {
                    let used = t.last_used_at.map_or("never".to_string(), |t| t.format("%Y-%m-%d %H:%M").to_string());
                    let state = if t.revoked { "revoked" } else { "live" };
                    println!("{:<24} {:<16} {:<8} last used {used}", t.username, t.name, state);
                }
            }
        }
        TokenCommand::Revoke { user, name } => {
            store.revoke_token(&user, &name, &by).await?;
            eprintln!("token `{name}` of {user} revoked");
        }
    }
    Ok(())
}

/// The password from `var`, else the first line of standard input (never an argument: those
/// show in `ps` and shell history).
fn password(var: Option<&str>) -> anyhow::Result<String> {
    let value = match var {
        Some(var) => std::env::var(var).with_context(|| format!("the environment variable {var} is not set"))?,
        None => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    if value.is_empty() {
        bail!("no password given: pipe it on standard input or use --password-env VAR");
    }
    Ok(value)
}
