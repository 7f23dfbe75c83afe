//! `teleport-bench chaos`: several replicas of a plugin (any destination kind: chat, Teams,
//! e-mail, the incident services, the trackers Jira and GitLab) against one testkit and the
//! plugin's fake service while requests arrive in bursts and faults are injected at random —
//! replicas SIGKILLed and
//! restarted, watch streams dropped, the testkit restarted, the destination answering
//! 429/5xx for a while, the identity rotated — then every request is resolved and the run
//! waits for the plugin to converge. The report counts what a user would notice: requests
//! never posted, posted twice, posts left without their resolution, the slowest post,
//! and any configured secret found in the plugin's output. What "posted" and "final" mean
//! per kind is in `destination/`.
//!
//! The fault schedule comes from a seed, so a failing run can be replayed.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use teleport_fakes::control::Fault;
use teleport_testkit::IdentityRequest;

use crate::cli::ChaosArgs;
use crate::process::{Target, free_port};
use crate::world::World;

/// One kind of injected fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
enum FaultKind {
    KillReplica,
    DropWatchers,
    RestartTeleport,
    /// The destination answers 429 (with Retry-After) to everything for a while.
    DestinationRateLimited,
    /// The destination answers 503 to everything for a while.
    DestinationServerErrors,
    RotateIdentity,
}

/// What the run found.
#[derive(Debug, Default, serde::Serialize)]
pub(crate) struct ChaosReport {
    /// The plugin under test (its destination kind).
    destination: Option<crate::destination::DestinationKind>,
    seed: u64,
    replicas: usize,
    created: usize,
    posted: usize,
    posted_twice: usize,
    never_posted: usize,
    left_unfinal: usize,
    max_time_to_post_ms: u64,
    faults: BTreeMap<String, usize>,
    secrets_in_output: usize,
    /// How many distinct secret strings were looked for (token, private-key lines).
    secrets_looked_for: usize,
    /// The run's tolerance for second messages (`--max-twice`).
    max_twice: usize,
    converged_in_secs: f64,
    passed: bool,
}

/// A replica slot: its files and the process when it runs.
struct Replica {
    name: String,
    config: PathBuf,
    /// Flags after `start -c <config>` (the destination's).
    flags: &'static [&'static str],
    ops: std::net::SocketAddr,
    stderr: PathBuf,
    process: Option<Target>,
    /// Earlier lives, whose logs are kept aside.
    lives: usize,
}

/// Runs the chaos scenario and prints the report; Ok(false) when anything was lost,
/// duplicated, left un-final or leaked.
pub(crate) async fn run(args: ChaosArgs) -> anyhow::Result<bool> {
    let dir = args.out_dir.join("chaos");
    let _ = std::fs::remove_dir_all(&dir);
    let mut world = World::start(
        &dir,
        args.destination,
        Duration::ZERO,
        teleport_testkit::DEFAULT_WATCH_BUFFER,
    )
    .await?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut replicas = Vec::new();
    for n in 0..args.replicas {
        let name = format!("replica-{n}");
        let ops = free_port()?;
        let config = world.plugin_config_named(&name, ops, "INFO")?;
        let stderr = dir.join(format!("{name}.stderr"));
        replicas.push(Replica {
            name,
            config,
            flags: world.dest.start_flags(),
            ops,
            stderr,
            process: None,
            lives: 0,
        });
    }
    for replica in &mut replicas {
        start(&args.plugin_bin, replica)?;
    }
    for replica in &replicas {
        if let Some(process) = &replica.process {
            process.wait_ready(Duration::from_secs(60)).await?;
        }
    }

    let mut report = ChaosReport {
        destination: Some(args.destination),
        seed: args.seed,
        replicas: args.replicas,
        max_twice: args.max_twice,
        ..ChaosReport::default()
    };
    let mut faults = Faults {
        next_fault: Instant::now() + fault_gap(&mut rng, &args),
        next_rotation: Instant::now() + Duration::from_secs(args.rotate_secs),
        destination_fault_until: None,
        dead: Vec::new(),
        rng,
    };
    let mut created_at: HashMap<String, Instant> = HashMap::new();
    let mut ids: Vec<String> = Vec::new();

    // Phase 1: bursts of new requests spread over `duration_secs`, faults landing meanwhile.
    let bursts = args.requests.div_ceil(args.burst.max(1)).max(1);
    let gap = Duration::from_secs(args.duration_secs) / u32::try_from(bursts).unwrap_or(u32::MAX);
    while ids.len() < args.requests {
        let burst = args.burst.max(1).min(args.requests - ids.len());
        let new = tokio::task::block_in_place(|| world.create_requests(burst))?;
        let now = Instant::now();
        for id in new {
            created_at.insert(id.clone(), now);
            ids.push(id);
        }
        faults
            .wait_injecting(&args, &mut world, &mut replicas, &mut report, gap)
            .await?;
    }
    // Phase 2: calm; every request must get its one post. (A request resolved before
    // the plugin saw it pending is not announced, by design, so resolving waits for this.)
    faults.calm(&args, &mut world, &mut replicas)?;
    let calm = Instant::now();
    let deadline = calm + Duration::from_secs(args.converge_secs);
    loop {
        world.observe_posts();
        let tally = tally(&world, &ids).await;
        if tally.missing == 0 || Instant::now() > deadline {
            report.posted = tally.posted;
            report.posted_twice = tally.twice;
            report.never_posted = tally.missing;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    report.created = ids.len();
    let posts = world.post_times().await;
    report.max_time_to_post_ms = ids
        .iter()
        .filter_map(|id| {
            Some(
                posts
                    .get(id)?
                    .saturating_duration_since(*created_at.get(id)?),
            )
        })
        .max()
        .map_or(0, |d| d.as_millis() as u64);

    // Phase 3: resolve every request (approve, deny, expire in turn) under faults again.
    let per_burst = args.burst.max(1);
    for (n, id) in ids.iter().enumerate() {
        match n % 3 {
            0 => drop(world.kit.approve(id, "chaos: approved")?),
            1 => drop(world.kit.deny(id, "chaos: denied")?),
            _ => world.kit.expire(id)?,
        }
        if n % per_burst == per_burst - 1 {
            faults
                .wait_injecting(&args, &mut world, &mut replicas, &mut report, gap)
                .await?;
        }
    }
    // Phase 4: calm; every post must show its request's resolution.
    faults.calm(&args, &mut world, &mut replicas)?;
    let deadline = Instant::now() + Duration::from_secs(args.converge_secs);
    loop {
        let tally = tally(&world, &ids).await;
        report.posted_twice = tally.twice;
        report.left_unfinal = tally.unfinal;
        if tally.unfinal == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    report.converged_in_secs = calm.elapsed().as_secs_f64();

    for replica in &mut replicas {
        if let Some(process) = replica.process.take() {
            let _ = process.stop().await;
        }
    }
    report.secrets_looked_for = world.secrets().len();
    report.secrets_in_output = count_secrets(&dir, &world)?;
    report.passed = report.never_posted == 0
        && report.posted_twice <= args.max_twice
        && report.left_unfinal == 0
        && report.secrets_in_output == 0
        && report.secrets_looked_for > 1;
    print_report(&report);
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(args.out_dir.join("chaos-report.json"), json)?;
    Ok(report.passed)
}

fn start(bin: &Path, replica: &mut Replica) -> anyhow::Result<()> {
    // The plugin truncates its log file on start; the log of the life a replica was killed
    // in is where a second message's cause is, so each life's log is kept aside
    // (`replica-0.1.log`, ...; still a `.log`, so still searched for secrets).
    let log = replica.config.with_extension("log");
    if log.exists() {
        replica.lives += 1;
        let kept = log.with_extension(format!("{}.log", replica.lives));
        std::fs::rename(&log, &kept)
            .with_context(|| format!("cannot keep {} aside", log.display()))?;
    }
    let process = Target::plugin(
        bin,
        &replica.config,
        replica.flags,
        replica.ops,
        &replica.stderr,
    )
    .with_context(|| format!("starting {}", replica.name))?;
    replica.process = Some(process);
    Ok(())
}

fn fault_gap(rng: &mut StdRng, args: &ChaosArgs) -> Duration {
    let max = args.fault_every_ms.max(1);
    Duration::from_millis(rng.random_range(max / 2..=max))
}

/// The fault schedule and what is currently broken.
struct Faults {
    rng: StdRng,
    next_fault: Instant,
    next_rotation: Instant,
    destination_fault_until: Option<Instant>,
    /// Killed replicas and when they come back.
    dead: Vec<(usize, Instant)>,
}

impl Faults {
    /// Lets `period` pass, injecting faults on schedule.
    async fn wait_injecting(
        &mut self,
        args: &ChaosArgs,
        world: &mut World,
        replicas: &mut [Replica],
        report: &mut ChaosReport,
        period: Duration,
    ) -> anyhow::Result<()> {
        let until = Instant::now() + period;
        loop {
            self.tick(args, world, replicas, report).await?;
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            tokio::time::sleep((until - now).min(Duration::from_millis(100))).await;
        }
    }

    /// Ends every fault: the destination answers again, killed replicas are started.
    fn calm(
        &mut self,
        args: &ChaosArgs,
        world: &mut World,
        replicas: &mut [Replica],
    ) -> anyhow::Result<()> {
        world.dest.control().clear_faults();
        self.destination_fault_until = None;
        for (slot, _) in self.dead.drain(..) {
            start(&args.plugin_bin, &mut replicas[slot])?;
        }
        Ok(())
    }

    /// Notes posts first seen, restarts replicas whose downtime is over, ends a destination
    /// fault window, rotates the
    /// identity when due, and injects the next fault when due.
    async fn tick(
        &mut self,
        args: &ChaosArgs,
        world: &mut World,
        replicas: &mut [Replica],
        report: &mut ChaosReport,
    ) -> anyhow::Result<()> {
        world.observe_posts();
        let now = Instant::now();
        let mut still_dead = Vec::new();
        for (slot, back_at) in self.dead.drain(..) {
            if now >= back_at {
                start(&args.plugin_bin, &mut replicas[slot])?;
            } else {
                still_dead.push((slot, back_at));
            }
        }
        self.dead = still_dead;
        if self
            .destination_fault_until
            .is_some_and(|until| now >= until)
        {
            world.dest.control().clear_faults();
            self.destination_fault_until = None;
        }
        if now >= self.next_rotation {
            world.rotate_identity(&IdentityRequest::new("access-plugin-slack"))?;
            count(report, FaultKind::RotateIdentity);
            self.next_rotation = now + Duration::from_secs(args.rotate_secs);
        }
        if now < self.next_fault {
            return Ok(());
        }
        self.next_fault = now + fault_gap(&mut self.rng, args);
        let kind = match self.rng.random_range(0..5) {
            0 => FaultKind::KillReplica,
            1 => FaultKind::DropWatchers,
            2 => FaultKind::RestartTeleport,
            3 => FaultKind::DestinationRateLimited,
            _ => FaultKind::DestinationServerErrors,
        };
        match kind {
            FaultKind::KillReplica => {
                let alive: Vec<usize> = (0..replicas.len())
                    .filter(|i| replicas[*i].process.is_some())
                    .collect();
                // Keep one replica alive so that progress is possible at all times.
                if alive.len() <= 1 {
                    return Ok(());
                }
                let slot = alive[self.rng.random_range(0..alive.len())];
                if let Some(process) = replicas[slot].process.take() {
                    process.kill().await?;
                }
                let back = now + Duration::from_millis(self.rng.random_range(200..2_000));
                self.dead.push((slot, back));
            }
            FaultKind::DropWatchers => world.kit.drop_watchers(),
            FaultKind::RestartTeleport => world.kit.restart().await?,
            FaultKind::DestinationRateLimited | FaultKind::DestinationServerErrors => {
                if self.destination_fault_until.is_some() {
                    return Ok(());
                }
                let fault = if kind == FaultKind::DestinationRateLimited {
                    Fault::RateLimited {
                        retry_after_secs: 1,
                    }
                } else {
                    Fault::ServerError { status: 503 }
                };
                world.dest.control().refuse_all(Some(fault));
                let longest = args.destination_fault_max_ms.max(500);
                let window = Duration::from_millis(self.rng.random_range(500..=longest));
                self.destination_fault_until = Some(now + window);
            }
            FaultKind::RotateIdentity => {}
        }
        count(report, kind);
        Ok(())
    }
}

fn count(report: &mut ChaosReport, kind: FaultKind) {
    *report.faults.entry(format!("{kind:?}")).or_default() += 1;
}

/// What the destination shows for the created requests.
struct Tally {
    posted: usize,
    twice: usize,
    missing: usize,
    unfinal: usize,
}

async fn tally(world: &World, ids: &[String]) -> Tally {
    let mut by_id: HashMap<String, Vec<bool>> = HashMap::new();
    for post in world.dest.posts() {
        if let Some(id) = post.request_id {
            by_id.entry(id).or_default().push(post.is_final);
        }
    }
    let mut tally = Tally {
        posted: 0,
        twice: 0,
        missing: 0,
        unfinal: 0,
    };
    for id in ids {
        match by_id.get(id.as_str()) {
            None => tally.missing += 1,
            Some(finals) => {
                tally.posted += 1;
                tally.twice += finals.len() - 1;
                // The request's recorded post must end final. A second post (the crash
                // window: posted, not yet recorded) is tracked by no record and stays as
                // posted; it is counted under "posted twice", not here.
                if !finals.iter().any(|is_final| *is_final) {
                    tally.unfinal += 1;
                }
            }
        }
    }
    tally
}

/// How many times a configured secret (the destination's token or keys, the identity's
/// private key body)
/// appears in the plugin's logs and stderr.
fn count_secrets(dir: &Path, world: &World) -> anyhow::Result<usize> {
    let secrets = world.secrets();
    let mut found = 0;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let is_output = path
            .extension()
            .is_some_and(|e| e == "log" || e == "stderr");
        if !is_output {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for secret in &secrets {
            let hits = text.matches(secret.as_str()).count();
            if hits > 0 {
                eprintln!(
                    "chaos: a secret appears {hits} time(s) in {}",
                    path.display()
                );
            }
            found += hits;
        }
    }
    Ok(found)
}

fn print_report(report: &ChaosReport) {
    println!(
        "\n## Chaos: {:?}, {} replicas, seed {}\n",
        report.destination, report.replicas, report.seed
    );
    println!(
        "| created | posted | posted twice | never posted | left un-final | max time to post | secrets in output | converged after calm |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {} | {} | {} | {:.1} s | {} | {:.1} s |",
        report.created,
        report.posted,
        report.posted_twice,
        report.never_posted,
        report.left_unfinal,
        report.max_time_to_post_ms as f64 / 1000.0,
        report.secrets_in_output,
        report.converged_in_secs
    );
    let faults: Vec<String> = report
        .faults
        .iter()
        .map(|(kind, n)| format!("{kind} ×{n}"))
        .collect();
    println!("\nfaults: {}", faults.join(", "));
    println!(
        "result: {} (tolerated second messages: {})",
        if report.passed { "PASS" } else { "FAIL" },
        report.max_twice
    );
}
