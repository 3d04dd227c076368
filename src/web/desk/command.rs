//! `pandu staff ...`: the desk's accounts from the server's terminal (in-process, or forwarded to the
//! running server like `pandu cases`). A new or reset password is printed once, to whoever ran the
//! command; the words come from `templates/desk/cli.txt`.

use clap::Subcommand;
use serde::{Deserialize, Serialize};

use super::accounts::{AccountError, Accounts};
use super::pages::cli_answer;
use crate::config::Config;
use crate::storage::Store;

#[derive(Subcommand, Debug, Clone, Serialize, Deserialize)]
pub enum AccountsCommand {
    /// Create a desk account; its password is printed once.
    Add {
        name: String,
        /// viewer (reads, personal data masked), officer (acts on cases), admin (also the audit log).
        #[arg(long)]
        role: String,
    },
    /// A new password for an account (printed once); ends its sessions and enables it again.
    ResetPassword { name: String },
    /// Disable an account and end its sessions.
    Disable { name: String },
    /// The accounts and their roles.
    List,
}

impl AccountsCommand {
    pub fn name(&self) -> &'static str {
        match self {
            AccountsCommand::Add { .. } => "staff add",
            AccountsCommand::ResetPassword { .. } => "staff reset-password",
            AccountsCommand::Disable { .. } => "staff disable",
            AccountsCommand::List => "staff list",
        }
    }
}

fn failed(e: &AccountError) -> String {
    cli_answer(e.kind(), "", "", "", &e.to_string())
}

/// Runs an accounts command; `Err` carries the text for the terminal.
pub async fn run(
    store: &Store,
    config: &Config,
    command: &AccountsCommand,
    actor: &str,
) -> Result<String, String> {
    let accounts = Accounts::open(store, &config.desk)
        .await
        .map_err(|e| failed(&e))?;
    match command {
        AccountsCommand::Add { name, role } => {
            let (name, password) = accounts
                .add(name, role, actor)
                .await
                .map_err(|e| failed(&e))?;
            let role = accounts
                .get(&name)
                .ok()
                .flatten()
                .map(|a| a.role.as_str())
                .unwrap_or("");
            Ok(cli_answer("added", &name, role, &password, ""))
        }
        AccountsCommand::ResetPassword { name } => {
            let password = accounts
                .reset_password(name, actor)
                .await
                .map_err(|e| failed(&e))?;
            let name = super::accounts::normalize_name(name).unwrap_or_default();
            Ok(cli_answer("reset", &name, "", &password, ""))
        }
        AccountsCommand::Disable { name } => {
            let name = accounts
                .disable(name, actor)
                .await
                .map_err(|e| failed(&e))?;
            Ok(cli_answer("disabled", &name, "", "", ""))
        }
        AccountsCommand::List => {
            let list = accounts.list().map_err(|e| failed(&e))?;
            if list.is_empty() {
                return Ok(cli_answer("empty", "", "", "", ""));
            }
            let lines: Vec<String> = list
                .iter()
                .map(|a| {
                    let state = if a.disabled { "disabled" } else { "" };
                    cli_answer("list_line", &a.name, a.role.as_str(), "", state)
                })
                .collect();
            Ok(lines.join("\n"))
        }
    }
}
