//! `tandem agent add`: creates or replaces a desk account on a running node through the
//! bank's provisioning API, the password read from standard input so it never appears in a
//! command line or a shell's history.

use std::io::BufRead;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};

#[derive(Subcommand)]
pub enum AgentCommand {
    /// Create or replace a desk account (TANDEM_API_KEY authorises it).
    Add(AddOptions),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Agent,
    Supervisor,
}

#[derive(Args)]
pub struct AddOptions {
    /// The node's URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// What the person signs in with: lowercase letters, digits, '.', '-', '_'.
    #[arg(long)]
    pub login: String,
    /// As the customer is told it ("Ana from Fraud is with you").
    #[arg(long)]
    pub name: String,
    /// The team whose queue they take (the `team` scripts name).
    #[arg(long)]
    pub team: String,
    #[arg(long, value_enum, default_value = "agent")]
    pub role: RoleArg,
    /// The account signs in only through the sign-on proxy (TANDEM_DESK_AUTH_HEADER): no
    /// password is read.
    #[arg(long)]
    pub sso_only: bool,
}

pub async fn run(command: AgentCommand) -> anyhow::Result<()> {
    let AgentCommand::Add(o) = command;
    let key = std::env::var("TANDEM_API_KEY")
        .ok()
        .filter(|k| !k.is_empty())
        .context("TANDEM_API_KEY is needed: the node's provisioning API takes it")?;
    let password = match o.sso_only {
        true => None,
        false => {
            eprintln!("password for {} (one line on standard input):", o.login);
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the password")?;
            Some(line.trim_end_matches(['\r', '\n']).to_owned())
        }
    };
    let role = match o.role {
        RoleArg::Agent => "agent",
        RoleArg::Supervisor => "supervisor",
    };
    let body = serde_json::json!({
        "login": o.login, "name": o.name, "team": o.team, "role": role, "password": password,
    });
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/agents", o.server.trim_end_matches('/')))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("reaching {}", o.server))?;
    let status = response.status();
    let answer: serde_json::Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        let message = answer["error"]["message"].as_str().unwrap_or("refused");
        bail!("the node refused the account (HTTP {status}): {message}");
    }
    println!(
        "saved {} ({}, team {})",
        answer["login"].as_str().unwrap_or_default(),
        role,
        answer["team"].as_str().unwrap_or_default()
    );
    Ok(())
}
