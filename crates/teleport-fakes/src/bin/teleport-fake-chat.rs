//! Runs the fake Slack on a listen address and prints every posted or updated message as one line.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use teleport_fakes::slack::{FakeSlack, FakeSlackOptions, MessageContent, SlackEvent};
use tokio::sync::broadcast::error::RecvError;

/// Fake Slack Web API for demos and containers (plain HTTP, in-memory).
#[derive(Debug, Parser)]
#[command(name = "teleport-fake-chat", version)]
struct Args {
    /// Address to listen on; the API is served under `/api/`.
    #[arg(long, default_value = "127.0.0.1:8065", env = "FAKE_CHAT_LISTEN")]
    listen: SocketAddr,

    /// Bot token clients must present.
    #[arg(
        long,
        default_value = "xoxb-fake-token",
        env = "FAKE_CHAT_TOKEN",
        hide_env_values = true
    )]
    token: String,

    /// A user for `users.lookupByEmail`, as `email=UID` (repeatable).
    #[arg(long = "user", value_name = "EMAIL=UID", value_parser = parse_user)]
    users: Vec<(String, String)>,

    /// A known channel, as `name=ID` or just `name` (repeatable). Without any, every
    /// channel is accepted and used verbatim as its ID.
    #[arg(long = "channel", value_name = "NAME[=ID]")]
    channels: Vec<String>,
}

fn parse_user(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((email, id)) if !email.is_empty() && !id.is_empty() => {
            Ok((email.to_owned(), id.to_owned()))
        }
        _ => Err(format!("expected EMAIL=UID, got {raw:?}")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mut options = FakeSlackOptions::default()
        .listen(args.listen)
        .token(args.token)
        .accept_any_channel(args.channels.is_empty());
    for (email, id) in args.users {
        options = options.user(email, id);
    }
    for channel in args.channels {
        let (name, id) = channel
            .split_once('=')
            .map_or((channel.as_str(), channel.as_str()), |(n, i)| (n, i));
        options = options.channel(id, name.trim_start_matches('#'));
    }

    let fake = match FakeSlack::try_start(options).await {
        Ok(fake) => fake,
        Err(err) => {
            eprintln!(
                "teleport-fake-chat: cannot listen on {}: {err}",
                args.listen
            );
            return ExitCode::FAILURE;
        }
    };
    let mut events = fake.subscribe();
    println!("fake slack listening, base url {}", fake.base_url());

    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => println!("{}", describe(&event)),
                Err(RecvError::Lagged(missed)) => println!("... {missed} events not shown (output too slow)"),
                Err(RecvError::Closed) => return ExitCode::SUCCESS,
            },
            _ = tokio::signal::ctrl_c() => return ExitCode::SUCCESS,
        }
    }
}

fn describe(event: &SlackEvent) -> String {
    match event {
        SlackEvent::Posted(message) => {
            let kind = match &message.thread_ts {
                Some(root) => format!("reply to {root}"),
                None => "post".to_owned(),
            };
            format!(
                "[{kind}] channel={} ts={} | {}",
                message.channel,
                message.ts,
                one_line(&message.posted)
            )
        }
        SlackEvent::Updated {
            channel,
            ts,
            content,
        } => format!("[update] channel={channel} ts={ts} | {}", one_line(content)),
    }
}

/// Block and text content folded into one line, newlines shown as ` / `.
fn one_line(content: &MessageContent) -> String {
    content
        .visible_text()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" / ")
}
